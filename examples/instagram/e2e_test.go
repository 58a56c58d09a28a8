package main

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/require"
)

// chromiumPath finds Debian's chromium. The browser test fails in CI
// without it (.ci/run installs it) and is skipped elsewhere.
func chromiumPath(t *testing.T) string {
	for _, p := range []string{os.Getenv("CHROMIUM"), "/usr/bin/chromium", "/usr/bin/chromium-browser"} {
		if p == "" {
			continue
		}
		if _, err := exec.LookPath(p); err == nil {
			return p
		}
	}
	if os.Getenv("CI") != "" {
		t.Fatal("chromium is not installed (apt-get install chromium)")
	}
	t.Skip("chromium is not installed (apt-get install chromium); CI runs this test")
	return ""
}

// browser starts a headless chromium with its own profile (so nothing is
// cached from a previous run) and returns a tab.
func browser(t *testing.T, path string) context.Context {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path), chromedp.NoSandbox, chromedp.DisableGPU,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("hide-scrollbars", true),
		chromedp.UserDataDir(t.TempDir()),
	)
	// The browser lives as long as the test, whatever the timeouts of the
	// steps derived from it.
	alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(alloc)
	t.Cleanup(func() { cancel(); cancelAlloc() })
	require.NoError(t, chromedp.Do(ctx))
	return ctx
}

func step(t *testing.T, ctx context.Context, what string, actions ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	sctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	require.NoError(t, chromedp.Do(sctx, actions...), what)
}

func eval[T any](t *testing.T, ctx context.Context, expr string) T {
	t.Helper()
	sctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	v, err := chromedp.Run(sctx, chromedp.Evaluate[T](expr, chromedp.EvalAwaitPromise))
	require.NoError(t, err, expr)
	return v
}

// TestBrowser drives the app in a real browser: sign up, follow, upload,
// like and comment; then checks, at four phone, tablet and desktop
// viewports, what the browser downloads for every picture of the feed,
// explore and a post page.
func TestBrowser(t *testing.T) {
	path := chromiumPath(t)
	a := startApp(t)

	// Bob has an avatar and photos of several shapes; the browser user
	// will follow him.
	bob := a.client()
	bob.signup("bob")
	rng := rand.New(rand.NewPCG(1, 2))
	avatar, err := encodeJPEG(portrait(rng, 400, 400), 1)
	require.NoError(t, err)
	require.Equal(t, 303, bob.upload("/settings", map[string]string{"name": "Bob"}, "avatar", "bob.jpg", avatar).status)
	for i, sz := range [][2]int{{1080, 1350}, {1080, 1080}, {900, 1600}, {1200, 800}} {
		data, err := encodeJPEG(landscape(rng, sz[0], sz[1]), 1)
		require.NoError(t, err)
		bob.newPost(fmt.Sprintf("Bob's photo %d", i), data)
	}

	ctx := browser(t, path)
	step(t, ctx, "sign up",
		chromedp.Navigate(a.URL+"/signup"),
		chromedp.SendKeys(chromedp.CSS("#username"), "carol"),
		chromedp.SendKeys(chromedp.CSS("#password"), "correct horse battery"),
		chromedp.Click(chromedp.CSS(`form button[type=submit]`)),
		chromedp.WaitVisible(chromedp.CSS(`form[action="/settings"]`)),
	)
	step(t, ctx, "follow bob",
		chromedp.Navigate(a.URL+"/u/bob"),
		chromedp.Click(chromedp.CSS(`form[action="/u/bob/follow"] button`)),
		chromedp.WaitVisible(chromedp.Search(`//button[text()="Following"]`)),
	)
	photo, err := filepath.Abs("../../testdata/photos/dandelion-1600.jpg")
	require.NoError(t, err)
	step(t, ctx, "upload a photo",
		chromedp.Navigate(a.URL+"/new"),
		chromedp.SetUploadFiles(chromedp.CSS("#photo"), []string{photo}),
		chromedp.SendKeys(chromedp.CSS("#caption"), "Seeds in the wind"),
		chromedp.Click(chromedp.CSS(`form[action="/new"] button`)),
		chromedp.WaitVisible(chromedp.CSS(".post-media picture")),
	)
	loc, err := chromedp.Run(ctx, chromedp.Location())
	require.NoError(t, err)
	u, _ := url.Parse(loc)
	require.Regexp(t, `^/p/\d+$`, u.Path)
	postPath := u.Path
	require.Contains(t, eval[string](t, ctx, `document.body.innerText`), "Generating sizes", "the page says the variants are on their way")

	// Wait for every picture of the app to be processed.
	wctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	require.NoError(t, a.pool.Wait(wctx))

	step(t, ctx, "see it in the feed, and like it",
		chromedp.Navigate(a.URL+"/"),
		chromedp.WaitVisible(chromedp.Search(`//p[contains(., "Seeds in the wind")]`)),
		chromedp.Click(chromedp.CSS(`form.like[action="`+postPath+`/like"] button`)),
		chromedp.WaitVisible(chromedp.CSS(`form.like[action="`+postPath+`/like"] button[aria-pressed="true"]`)),
	)
	require.Equal(t, 1, eval[int](t, ctx, `+document.querySelector('form.like[action="`+postPath+`/like"] .likes').textContent`), "htmx swapped in the new count")
	step(t, ctx, "comment",
		chromedp.Navigate(a.URL+postPath),
		chromedp.SendKeys(chromedp.CSS("#body"), "What a day for it"),
		chromedp.Click(chromedp.CSS(`.comment-form button`)),
		chromedp.WaitVisible(chromedp.Search(`//p[contains(., "What a day for it")]`)),
	)
	require.NotContains(t, eval[string](t, ctx, `document.body.innerText`), "Generating sizes")

	shots := filepath.Join(os.TempDir(), "instagram-e2e")
	require.NoError(t, os.MkdirAll(shots, 0o755))
	for _, vp := range []struct {
		w, h int64
		dpr  float64
	}{{360, 800, 2}, {390, 844, 3}, {768, 1024, 2}, {1440, 900, 1}} {
		name := fmt.Sprintf("%dx%d@%g", vp.w, vp.h, vp.dpr)
		t.Run(name, func(t *testing.T) {
			for _, page := range []string{"/", "/explore", postPath} {
				// A fresh browser per page: nothing is cached, so every
				// download is a choice made for this viewport and page.
				bctx := browser(t, path)
				step(t, bctx, "log in and open "+page,
					chromedp.EmulateViewport(vp.w, vp.h, chromedp.EmulateScale(vp.dpr)),
					chromedp.Navigate(a.URL+"/login?next="+url.QueryEscape(page)),
					chromedp.SendKeys(chromedp.CSS("#username"), "carol"),
					chromedp.SendKeys(chromedp.CSS("#password"), "correct horse battery"),
					chromedp.Click(chromedp.CSS(`form button[type=submit]`)),
					chromedp.WaitVisible(chromedp.CSS("main picture")),
				)
				checkPictures(t, bctx, page, vp.dpr)
				if page == "/" {
					shot, err := chromedp.Run(bctx, chromedp.FullScreenshot(90))
					require.NoError(t, err)
					file := filepath.Join(shots, strings.ReplaceAll(name, "@", "-at-")+".jpeg")
					require.NoError(t, os.WriteFile(file, shot, 0o644))
					t.Logf("screenshot: %s", file)
				}
			}
		})
	}
}

// pictureReport is what the page says about one <picture>.
type pictureReport struct {
	Alt        string  `json:"alt"`
	Current    string  `json:"current"`
	Painted    float64 `json:"painted"`
	Sizes      string  `json:"sizes"`
	Candidates []struct {
		URL string `json:"url"`
		W   int    `json:"w"`
	} `json:"candidates"`
	Fallback   string   `json:"fallback"`
	Downloaded []string `json:"downloaded"`
}

// collectPictures scrolls through the page so that lazy images load,
// waits for them, then reports every picture and what was downloaded.
const collectPictures = `(async () => {
  const sleep = ms => new Promise(r => setTimeout(r, ms));
  for (let y = 0; y < document.documentElement.scrollHeight; y += innerHeight / 2) {
    window.scrollTo(0, y);
    await sleep(120);
  }
  const deadline = Date.now() + 30000;
  while ([...document.images].some(i => !i.complete) && Date.now() < deadline) await sleep(100);
  await sleep(300);
  const loaded = performance.getEntriesByType('resource').map(e => e.name);
  return [...document.querySelectorAll('picture')].map(p => {
    const img = p.querySelector('img');
    const candidates = [];
    for (const s of p.querySelectorAll('source')) {
      for (const c of s.srcset.split(', ')) {
        const [u, w] = c.trim().split(' ');
        candidates.push({url: new URL(u, location.href).href, w: parseInt(w)});
      }
    }
    const mine = new Set([img.src, ...candidates.map(c => c.url)]);
    return {
      alt: img.alt, current: img.currentSrc, painted: img.getBoundingClientRect().width,
      sizes: p.querySelector('source') ? p.querySelector('source').sizes : '',
      candidates, fallback: img.src, downloaded: loaded.filter(u => mine.has(u)),
    };
  });
})()`

// checkPictures applies the rules of a good srcset to every picture of
// the page: one download per picture; the chosen candidate at least as
// wide as the picture's painted width times the pixel density whenever a
// wide enough candidate exists; and no more than 1.5 times wider than
// needed unless no candidate lies in between.
func checkPictures(t *testing.T, ctx context.Context, page string, dpr float64) {
	t.Helper()
	reports := eval[[]pictureReport](t, ctx, collectPictures)
	require.NotEmpty(t, reports, page)
	// Pictures of the same upload at the same size share their download.
	current := map[string]bool{}
	for _, r := range reports {
		current[r.Current] = true
	}
	for i, r := range reports {
		where := fmt.Sprintf("%s picture %d (%q, painted %.1f px at %gx, sizes %q)", page, i, r.Alt, r.Painted, dpr, r.Sizes)
		require.NotEmpty(t, r.Candidates, "%s has no sources: not processed?", where)
		require.NotEqual(t, r.Fallback, r.Current, "%s shows the JPEG fallback", where)
		chosen, widest := 0, 0
		for _, c := range r.Candidates {
			widest = max(widest, c.W)
			if c.URL == r.Current {
				chosen = c.W
			}
		}
		require.NotZero(t, chosen, "%s: %s is not a candidate", where, r.Current)
		distinct := map[string]bool{}
		for _, d := range r.Downloaded {
			distinct[d] = true
		}
		require.Len(t, distinct, 1, "%s downloaded %v", where, r.Downloaded)
		require.True(t, distinct[r.Current], "%s downloaded %v, shows %s", where, r.Downloaded, r.Current)

		needed := r.Painted * dpr
		if float64(widest) >= needed {
			require.GreaterOrEqual(t, float64(chosen), needed, "%s: chose %dw, needs %.1f", where, chosen, needed)
		} else {
			require.Equal(t, widest, chosen, "%s: chose %dw, the widest is %dw", where, chosen, widest)
		}
		if float64(chosen) > 1.5*needed {
			for _, c := range r.Candidates {
				if float64(c.W) >= needed && c.W < chosen {
					t.Errorf("%s: chose %dw for %.1f px when %dw would do", where, chosen, needed, c.W)
				}
			}
		}
		t.Logf("%s: %dw of %d candidates (%.0f%% of need)", where, chosen, len(r.Candidates), 100*float64(chosen)/math.Max(needed, 1))
	}
}
