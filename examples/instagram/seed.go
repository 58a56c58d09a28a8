package main

import (
	"bytes"
	"context"
	crand "crypto/rand"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"math"
	"math/rand/v2"
	"runtime"
	"strings"
	"sync"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/gopictures/pictures"
	"github.com/gopictures/pictures/processor"
)

// The demo: a few users with avatars and bios who follow each other, and
// generated photographs of varied sizes and orientations with captions,
// likes and comments. Pictures are checked and stored as real uploads are
// (Upload) and recorded in their rows, then scheduled once every row exists,
// newest first (with PostgreSQL, each job is enqueued with its row). Their
// jobs are backlog (processor.Backlog): an upload made while the demo is
// processed starts before them.

// backlogKey marks a context whose pictures' jobs the database enqueues
// with their rows as backlog (see jobOf).
type backlogKey struct{}

// asBacklog returns ctx marked so.
func asBacklog(ctx context.Context) context.Context {
	return context.WithValue(ctx, backlogKey{}, true)
}

// jobOf is the job the database enqueues with p's row: Fresh (an upload),
// or Backlog in a context from asBacklog.
func jobOf(ctx context.Context, p pictures.Picture) pictures.Job {
	j := pictures.Job{Picture: p}
	if ctx.Value(backlogKey{}) != nil {
		j.Priority = processor.Backlog
	}
	return j
}

// demoPassword returns a password for the demo's users: random, as anyone
// who knows a published one could log in to a demo left running on a public
// address. It reads "xxxx-xxxx-xxxx" (60 bits), to be typed from the log.
func demoPassword() string {
	t := strings.ToLower(crand.Text())
	return t[0:4] + "-" + t[4:8] + "-" + t[8:12]
}

var demoUsers = []struct{ username, name, bio string }{
	{"ada", "Ada Lovelace", "Poetical science. Analytical engines and alpine sunsets."},
	{"grace", "Grace Hopper", "A nanosecond is about a foot long. Harbours at dawn ⚓"},
	{"alan", "Alan Turing", "Long-distance runner. Morphogenesis, mostly in mountains."},
	{"margaret", "Margaret Hamilton", "Software engineer. Always has a backup plan (and a tripod)."},
	{"katherine", "Katherine Johnson", "Trajectories, orbits, and the occasional lake at night."},
}

var demoFollows = map[string][]string{
	"ada":       {"grace", "alan", "margaret", "katherine"},
	"grace":     {"ada", "alan"},
	"alan":      {"grace", "katherine"},
	"margaret":  {"ada", "grace", "alan"},
	"katherine": {"margaret"},
}

var demoCaptions = []string{
	"Golden hour never gets old.", "Woke up at 5 for this. Worth it.", "Somewhere between the lake and the sky.",
	"The mountains are calling #nofilter", "First light on the ridge.", "Blue hour, quiet water.",
	"Found a new favourite trail.", "Evening walk, long shadows.", "Still water, still mind.",
	"Layers on layers.", "That sky though 🌅", "Weekend escape.", "Chasing the last light.",
	"Cold morning, warm colours.", "The view from the top.", "",
}

var demoComments = []string{
	"Stunning!", "Where is this?", "Those colours 😍", "Adding this to my list.", "Beautiful light.",
	"This should be a postcard.", "Wow.", "What lens did you use?", "Take me there!", "So peaceful.",
}

// demoSizes are the photographs' sizes, with the EXIF orientation they are
// stored with (6: as a phone held upright stores them, turned).
var demoSizes = []struct{ w, h, orientation int }{
	{1080, 1350, 1}, {1600, 900, 1}, {1080, 1080, 1}, {1200, 1600, 6}, {1350, 1080, 1},
	{900, 1600, 1}, {1600, 1067, 1}, {1080, 1350, 8}, {1440, 960, 1}, {1200, 1200, 1},
	{800, 1200, 1}, {1600, 686, 1},
}

func seedDemo(ctx context.Context, m *Main) error {
	ctx = asBacklog(ctx)
	start := time.Now()
	log := m.cfg.Logger
	db := m.db
	rng := rand.New(rand.NewPCG(2026, 11))
	ids := map[string]int64{}
	var avatars []pictures.Picture
	password := m.cfg.DemoPassword
	if password == "" {
		password = demoPassword()
	}
	for i, u := range demoUsers {
		hash, err := bcrypt.GenerateFromPassword([]byte(password), m.cfg.BcryptCost)
		if err != nil {
			return err
		}
		id, err := db.CreateUser(ctx, u.username, u.name, hash)
		if err != nil {
			return err
		}
		ids[u.username] = id
		if err := db.UpdateProfile(ctx, id, u.name, u.bio); err != nil {
			return err
		}
		if i == len(demoUsers)-1 {
			continue // one user without an avatar shows the initial
		}
		data, err := encodeJPEG(portrait(rng, 600, 600), 1)
		if err != nil {
			return err
		}
		p, err := m.avatar.Upload(ctx, bytes.NewReader(data), u.username+".jpg")
		if err != nil {
			return err
		}
		if _, err := db.SetAvatar(ctx, id, p); err != nil {
			return err
		}
		avatars = append(avatars, p)
	}
	for follower, followees := range demoFollows {
		for _, followee := range followees {
			if _, err := db.ToggleFollow(ctx, ids[follower], ids[followee]); err != nil {
				return err
			}
		}
	}

	// Generate the photographs in parallel, then post them oldest first.
	const n = 36
	photos := make([][]byte, n)
	var wg sync.WaitGroup
	sem := make(chan struct{}, runtime.GOMAXPROCS(0))
	var genErr error
	var mu sync.Mutex
	for i := range n {
		seed := rng.Uint64()
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			sz := demoSizes[i%len(demoSizes)]
			data, err := encodeJPEG(landscape(rand.New(rand.NewPCG(seed, uint64(i))), sz.w, sz.h), sz.orientation)
			mu.Lock()
			defer mu.Unlock()
			if err != nil && genErr == nil {
				genErr = err
			}
			photos[i] = data
		})
	}
	wg.Wait()
	if genErr != nil {
		return genErr
	}
	var posts []pictures.Picture
	for i, data := range photos {
		author := demoUsers[rng.IntN(len(demoUsers))].username
		p, err := m.post.Upload(ctx, bytes.NewReader(data), fmt.Sprintf("IMG_%04d.JPG", 1000+i))
		if err != nil {
			return err
		}
		at := time.Now().Add(-time.Duration(n-i) * 9 * time.Hour)
		id, err := db.CreatePost(ctx, ids[author], demoCaptions[i%len(demoCaptions)], p, at)
		if err != nil {
			return err
		}
		posts = append(posts, p)
		for _, u := range demoUsers {
			if rng.IntN(3) == 0 {
				if _, _, err := db.ToggleLike(ctx, ids[u.username], id); err != nil {
					return err
				}
			}
		}
		for c := range rng.IntN(5) {
			who := demoUsers[rng.IntN(len(demoUsers))].username
			body := demoComments[rng.IntN(len(demoComments))]
			if _, err := db.AddComment(ctx, id, ids[who], body, at.Add(time.Duration(c+1)*17*time.Minute)); err != nil {
				return err
			}
		}
	}
	// The one place the password is shown (it is not in the structured log).
	fmt.Printf("  demo: %d users, %d posts; log in as %q with password %q (shown once)\n\n", len(demoUsers), len(posts), demoUsers[0].username, password)
	log.Info("instagram: demo seeded; generating variants in the background", "posts", len(posts), "took", time.Since(start).Round(time.Millisecond))

	if db.EnqueuesJobs() {
		return nil // each picture's job was enqueued with its row
	}
	// Newest first: the top of the feed is ready first.
	for _, p := range avatars {
		if err := m.avatar.ScheduleBacklog(ctx, p); err != nil {
			return err
		}
	}
	for i := len(posts) - 1; i >= 0; i-- {
		if err := m.post.ScheduleBacklog(ctx, posts[i]); err != nil {
			return err
		}
	}
	return nil
}

// encodeJPEG encodes img as a camera would store it in EXIF orientation o:
// turned, with the tag that turns it back.
func encodeJPEG(img *image.RGBA, o int) ([]byte, error) {
	stored := img
	if o == 6 || o == 8 {
		b := img.Bounds()
		stored = image.NewRGBA(image.Rect(0, 0, b.Dy(), b.Dx()))
		for y := 0; y < b.Dy(); y++ {
			for x := 0; x < b.Dx(); x++ {
				if o == 6 { // shown turned a quarter clockwise
					stored.SetRGBA(y, b.Dx()-1-x, img.RGBAAt(x, y))
				} else {
					stored.SetRGBA(b.Dy()-1-y, x, img.RGBAAt(x, y))
				}
			}
		}
	}
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, stored, &jpeg.Options{Quality: 90}); err != nil {
		return nil, err
	}
	if o == 1 {
		return buf.Bytes(), nil
	}
	tiff := []byte("MM\x00*\x00\x00\x00\x08\x00\x01\x01\x12\x00\x03\x00\x00\x00\x01\x00\x00\x00\x00\x00\x00\x00\x00")
	tiff[19] = byte(o)
	seg := append([]byte("Exif\x00\x00"), tiff...)
	out := append([]byte{0xFF, 0xD8, 0xFF, 0xE1, byte((len(seg) + 2) >> 8), byte(len(seg) + 2)}, seg...)
	return append(out, buf.Bytes()[2:]...), nil
}

type rgb struct{ r, g, b float64 }

func mix(a, b rgb, t float64) rgb {
	return rgb{a.r + (b.r-a.r)*t, a.g + (b.g-a.g)*t, a.b + (b.b-a.b)*t}
}

// landscape paints a photograph-like scene: a sky of the hour, a sun,
// layers of mountains fading into the haze, sometimes a lake reflecting
// it all, and film grain.
func landscape(rng *rand.Rand, w, h int) *image.RGBA {
	palettes := [][3]rgb{
		{{0.98, 0.62, 0.33}, {0.55, 0.32, 0.55}, {0.99, 0.86, 0.55}}, // sunset
		{{0.45, 0.68, 0.92}, {0.82, 0.90, 0.97}, {1.00, 0.98, 0.90}}, // midday
		{{0.10, 0.13, 0.30}, {0.33, 0.30, 0.52}, {0.95, 0.93, 0.85}}, // dusk
		{{0.96, 0.77, 0.69}, {0.62, 0.70, 0.86}, {1.00, 0.92, 0.80}}, // dawn
	}
	pal := palettes[rng.IntN(len(palettes))]
	top, horizon, sun := pal[1], pal[0], pal[2]
	sunX, sunY := 0.2+0.6*rng.Float64(), 0.25+0.3*rng.Float64()
	sunR := 0.04 + 0.05*rng.Float64()
	layers := 3 + rng.IntN(2)
	type ridge struct{ base, amp, f1, f2, p1, p2 float64 }
	ridges := make([]ridge, layers)
	for i := range ridges {
		ridges[i] = ridge{0.45 + 0.1*float64(i) + 0.05*rng.Float64(), 0.06 + 0.08*rng.Float64(),
			2 + 4*rng.Float64(), 9 + 12*rng.Float64(), 6 * rng.Float64(), 6 * rng.Float64()}
	}
	lake := rng.IntN(2) == 0
	water := 0.78 + 0.08*rng.Float64()
	ground := rgb{0.12 + 0.1*rng.Float64(), 0.18 + 0.12*rng.Float64(), 0.15 + 0.1*rng.Float64()}
	aspect := float64(w) / float64(h)

	img := image.NewRGBA(image.Rect(0, 0, w, h))
	var wg sync.WaitGroup
	bands := runtime.GOMAXPROCS(0)
	for band := range bands {
		seed := rng.Uint64()
		wg.Go(func() {
			grain := rand.New(rand.NewPCG(seed, 7))
			for y := h * band / bands; y < h*(band+1)/bands; y++ {
				for x := range w {
					u, v := float64(x)/float64(w), float64(y)/float64(h)
					sv := v
					if lake && v > water {
						sv = 2*water - v + 0.004*math.Sin(v*900+u*30) // reflection with ripples
					}
					c := sky(u, sv, top, horizon, sun, sunX, sunY, sunR, aspect)
					for i, r := range ridges {
						ry := r.base + r.amp*(0.6*math.Sin(u*r.f1+r.p1)+0.3*math.Sin(u*r.f2+r.p2)+0.1*math.Sin(u*41+r.p1*3))
						if sv > ry {
							depth := float64(i+1) / float64(layers)
							c = mix(mix(horizon, top, 0.3), ground, 0.35+0.65*depth)
						}
					}
					if lake && v > water {
						c = mix(c, rgb{0.05, 0.1, 0.15}, 0.25+0.5*(v-water))
					}
					n := (grain.Float64() - 0.5) * 0.05
					img.SetRGBA(x, y, color.RGBA{clamp(c.r + n), clamp(c.g + n), clamp(c.b + n), 255})
				}
			}
		})
	}
	wg.Wait()
	return img
}

func sky(u, v float64, top, horizon, sun rgb, sx, sy, sr, aspect float64) rgb {
	c := mix(top, horizon, math.Pow(min(1, v/0.6), 1.4))
	d := math.Hypot((u-sx)*aspect, v-sy)
	switch {
	case d < sr:
		return sun
	case d < sr*4:
		return mix(c, sun, math.Pow(1-(d-sr)/(sr*3), 2)*0.6)
	}
	return c
}

// portrait paints an avatar: a soft gradient with a few overlapping
// circles.
func portrait(rng *rand.Rand, w, h int) *image.RGBA {
	a := rgb{rng.Float64(), rng.Float64(), rng.Float64()}
	b := rgb{rng.Float64(), rng.Float64(), rng.Float64()}
	type circle struct {
		x, y, r float64
		c       rgb
	}
	var cs []circle
	for range 4 {
		cs = append(cs, circle{rng.Float64(), rng.Float64(), 0.15 + 0.25*rng.Float64(), rgb{rng.Float64(), rng.Float64(), rng.Float64()}})
	}
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			u, v := float64(x)/float64(w), float64(y)/float64(h)
			c := mix(a, b, (u+v)/2)
			for _, ci := range cs {
				if d := math.Hypot(u-ci.x, v-ci.y); d < ci.r {
					c = mix(c, ci.c, 0.6*(1-d/ci.r))
				}
			}
			img.SetRGBA(x, y, color.RGBA{clamp(c.r), clamp(c.g), clamp(c.b), 255})
		}
	}
	return img
}

func clamp(v float64) uint8 {
	return uint8(max(0, min(255, math.Round(v*255))))
}
