package main

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	cdpnetwork "github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// chromiumPath finds Debian's chromium. The browser test fails in CI
// without it (.ci/run installs it) and is skipped elsewhere.
func chromiumPath(t testing.TB) string {
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
func browser(t testing.TB, path string) context.Context {
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

func step(t testing.TB, ctx context.Context, what string, actions ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	sctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	require.NoError(t, chromedp.Do(sctx, actions...), what)
}

func eval[T any](t testing.TB, ctx context.Context, expr string) T {
	t.Helper()
	sctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	v, err := chromedp.Run(sctx, chromedp.Evaluate[T](expr, chromedp.EvalAwaitPromise))
	require.NoError(t, err, expr)
	return v
}

// A device is a screen the browser test emulates.
type device struct {
	w, h int64
	dpr  float64
}

func (d device) String() string { return fmt.Sprintf("%dx%d@%g", d.w, d.h, d.dpr) }

// mobile reports whether d is a phone or a tablet (mobile emulation:
// overlay scrollbars, the page's meta viewport).
func (d device) mobile() bool { return d.w < 1024 }

// devices are the screens TestBrowser checks: small and large phones at
// the common densities (2.625 is a Pixel's), a tablet, laptops and
// desktops up to 2560 px.
var devices = []device{
	{320, 640, 1}, {360, 800, 2}, {390, 844, 3}, {412, 915, 2.625}, {768, 1024, 2},
	{1280, 800, 1.5}, {1440, 900, 1}, {1920, 1080, 1}, {2560, 1440, 2},
}

// maxBrowserWaste is the most a picture may download, as a ratio of the
// width it paints times the device pixel ratio: the ladder's MaxWaste
// (1.2) and a margin.
const maxBrowserWaste = 1.25

// TestBrowser drives the app in a real browser: sign up, follow, upload,
// like and comment; then, on every device of devices, opens the feed,
// explore, a post page (art-directed) and a profile, and checks what the
// browser downloads for every picture (see checkPictures).
func TestBrowser(t *testing.T) {
	path := chromiumPath(t)
	began := time.Now()
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
	// Carol's avatar (from a second session) shows in the top bar of
	// every page and beside her comment.
	carol := a.client()
	require.Equal(t, http.StatusSeeOther, carol.post("/login", url.Values{"username": {"carol"}, "password": {"correct horse battery"}}).status)
	avatar, err = encodeJPEG(portrait(rng, 600, 600), 1)
	require.NoError(t, err)
	require.Equal(t, 303, carol.upload("/settings", map[string]string{"name": "Carol"}, "avatar", "carol.jpg", avatar).status)
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
	t.Logf("every picture processed %s after the app started", time.Since(began).Round(time.Millisecond))

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

	// Each page opens in a browser context of its own (an incognito
	// profile: empty caches), logged in with Carol's session cookie, so
	// every download is a choice made for this device and page.
	cookies, err := chromedp.Call(ctx, cdpnetwork.GetCookies, cdpnetwork.GetCookiesParams{URLs: []string{a.URL}})
	require.NoError(t, err)
	var session cdpnetwork.SetCookieParams
	for _, c := range cookies.Cookies {
		if c.Name == sessionName {
			session = cdpnetwork.SetCookieParams{Name: c.Name, Value: c.Value, URL: a.URL, Path: "/", HTTPOnly: &c.HTTPOnly}
		}
	}
	require.NotEmpty(t, session.Value, "carol's session cookie")

	shots := filepath.Join(os.TempDir(), "instagram-e2e")
	require.NoError(t, os.MkdirAll(shots, 0o755))
	pages := []struct{ name, path string }{{"feed", "/"}, {"explore", "/explore"}, {"post", postPath}, {"profile", "/u/bob"}}
	var summary []string
	start := time.Now()
	for _, d := range devices {
		t.Run(d.String(), func(t *testing.T) {
			devStart := time.Now()
			var rows []string
			for _, pg := range pages {
				report := visit(t, ctx, d, a.URL+pg.path, session, func(pctx context.Context) {
					if pg.name == "feed" || pg.name == "post" {
						shot, err := chromedp.Run(pctx, chromedp.FullScreenshot(90))
						require.NoError(t, err)
						file := filepath.Join(shots, fmt.Sprintf("%s-%dx%d-at-%g.jpeg", pg.name, d.w, d.h, d.dpr))
						require.NoError(t, os.WriteFile(file, shot, 0o644))
					}
				})
				rows = append(rows, checkPictures(t, d, pg.name, report)...)
				w := worst(report, d.dpr)
				summary = append(summary, fmt.Sprintf("%-16s %-8s %3d pictures  worst waste %.3f  lowest %.3f  painted-sizes %.3f px  CLS %.4f",
					d, pg.name, len(report.Pictures), w.waste, w.lowest, w.offSizes, report.CLS))
			}
			t.Logf("%s: every picture, %s\n%-16s %-8s %-40s %7s %8s %6s\n%s", d, time.Since(devStart).Round(time.Millisecond),
				"device", "page", "picture", "chosen", "needed", "ratio", strings.Join(rows, "\n"))
		})
	}
	t.Logf("%d devices x %d pages in %s (screenshots in %s)\n%s", len(devices), len(pages),
		time.Since(start).Round(time.Millisecond), shots, strings.Join(summary, "\n"))
}

// visit opens url on device d in a new browser context of the browser of
// ctx (an incognito profile, with empty caches) with the session cookie,
// reports its pictures (collectPictures), then calls then with the tab.
func visit(t *testing.T, ctx context.Context, d device, url string, session cdpnetwork.SetCookieParams, then func(context.Context)) pageReport {
	t.Helper()
	pctx, cancel := chromedp.NewContext(ctx, chromedp.WithNewBrowserContext())
	defer cancel()
	require.NoError(t, chromedp.Do(pctx)) // the tab lives until cancel, whatever the steps' timeouts
	opts := []chromedp.EmulateViewportOption{chromedp.EmulateScale(d.dpr)}
	if d.mobile() {
		opts = append(opts, chromedp.EmulateMobile, chromedp.EmulatePortrait)
	}
	step(t, pctx, "open "+url,
		chromedp.EmulateViewport(d.w, d.h, opts...),
		chromedp.Func(func(ctx context.Context, tgt *chromedp.Target) error {
			_, err := cdp.Call(ctx, tgt, cdpnetwork.SetCookie, session)
			return err
		}),
		chromedp.Navigate(url),
		chromedp.WaitVisible(chromedp.CSS("main picture")),
	)
	report := eval[pageReport](t, pctx, collectPictures)
	then(pctx)
	return report
}

// pageReport is what collectPictures reports about a page.
type pageReport struct {
	DPR         float64 `json:"dpr"`
	InnerWidth  float64 `json:"innerWidth"`
	ClientWidth float64 `json:"clientWidth"`
	ScrollWidth float64 `json:"scrollWidth"`
	// CLS is the page's cumulative layout shift; PictureShift the part of
	// it that moved a picture.
	CLS          float64         `json:"cls"`
	PictureShift float64         `json:"pictureShift"`
	Shifts       []string        `json:"shifts"`
	Pictures     []pictureReport `json:"pictures"`
}

// pictureReport is what the page says about one <picture>.
type pictureReport struct {
	Kind    string `json:"kind"` // feed, post, tile, avatar-sm, avatar-lg
	Alt     string `json:"alt"`
	Current string `json:"current"` // img.currentSrc
	// The <source> the browser takes: the first whose media matches and
	// whose type it supports. Candidates are its srcset's.
	Media      string      `json:"media"`
	Type       string      `json:"type"`
	Sizes      string      `json:"sizes"`
	Candidates []candidate `json:"candidates"`
	Fallback   string      `json:"fallback"` // img.src
	// Painted is the <img>'s width in CSS pixels; SizesWidth the width its
	// sizes give at this viewport, evaluated by the browser.
	Painted    float64  `json:"painted"`
	SizesWidth float64  `json:"sizesWidth"`
	Downloaded []string `json:"downloaded"` // every URL of the picture the page fetched
}

type candidate struct {
	URL string `json:"url"`
	W   int    `json:"w"`
}

// collectPictures scrolls through the page so that lazy images load,
// waits for them, then reports every picture, what was downloaded, and the
// page's cumulative layout shift.
const collectPictures = `(async () => {
  const sleep = ms => new Promise(r => setTimeout(r, ms));
  for (let y = 0; y < document.documentElement.scrollHeight; y += innerHeight / 2) {
    window.scrollTo(0, y);
    await sleep(100);
  }
  const deadline = Date.now() + 30000;
  while ([...document.images].some(i => !i.complete) && Date.now() < deadline) await sleep(50);
  await Promise.all([...document.images].map(i => i.decode().catch(() => {})));
  await sleep(100);
  const shifts = await new Promise(resolve => {
    const all = [];
    const po = new PerformanceObserver(l => all.push(...l.getEntries()));
    po.observe({type: 'layout-shift', buffered: true});
    setTimeout(() => { all.push(...po.takeRecords()); po.disconnect(); resolve(all); }, 200);
  });
  const describe = n => !n ? '?' : n.nodeType !== 1 ? n.nodeName : n.tagName.toLowerCase() + (n.className ? '.' + String(n.className).split(' ').join('.') : '');
  const rect = r => r ? [r.x, r.y, r.width, r.height].map(v => Math.round(v * 10) / 10).join(',') : '?';
  // A shift moves a picture if one of its sources is, holds or is inside one.
  const movesPicture = e => (e.sources || []).some(s => s.node && s.node.nodeType === 1 && (s.node.closest('picture') || s.node.querySelector('picture')));
  const loaded = new Set(performance.getEntriesByType('resource').map(e => e.name));
  const probe = document.createElement('div');
  probe.style.cssText = 'position:absolute;top:0;left:0;height:0;visibility:hidden';
  document.body.append(probe);
  const sizesWidth = sizes => {
    for (let e of sizes.split(', ')) {
      e = e.trim();
      if (e === 'auto') continue;
      const m = e.match(/^(\([^)]*\))\s+(.+)$/);
      if (m && !matchMedia(m[1]).matches) continue;
      probe.style.width = m ? m[2] : e;
      return probe.getBoundingClientRect().width;
    }
    return 0;
  };
  const parse = srcset => srcset ? srcset.split(', ').map(c => {
    const [u, w] = c.trim().split(' ');
    return {url: new URL(u, location.href).href, w: parseInt(w)};
  }) : [];
  const supported = ['image/avif', 'image/webp', 'image/jpeg', 'image/png'];
  const pictures = [...document.querySelectorAll('picture')].map(p => {
    const img = p.querySelector('img');
    const sources = [...p.querySelectorAll('source')];
    const src = sources.find(s => (!s.media || matchMedia(s.media).matches) && (!s.type || supported.includes(s.type)));
    const sizes = src ? src.sizes : img.sizes;
    const mine = new Set([img.src, ...sources.flatMap(s => parse(s.srcset).map(c => c.url))]);
    const kind = p.closest('.tile') ? 'tile' : p.closest('.card-media') ? 'feed' : p.closest('.post-media') ? 'post' :
      p.classList.contains('avatar-lg') ? 'avatar-lg' : p.classList.contains('avatar-sm') ? 'avatar-sm' : 'picture';
    return {
      kind, alt: img.alt, current: img.currentSrc, fallback: img.src,
      media: src ? src.media : '', type: src ? src.type : '', sizes,
      candidates: parse(src ? src.srcset : img.srcset),
      painted: img.getBoundingClientRect().width, sizesWidth: sizesWidth(sizes),
      downloaded: [...loaded].filter(u => mine.has(u)),
    };
  });
  probe.remove();
  window.scrollTo(0, 0);
  return {
    dpr: devicePixelRatio, innerWidth, clientWidth: document.documentElement.clientWidth,
    scrollWidth: document.documentElement.scrollWidth,
    cls: shifts.filter(e => !e.hadRecentInput).reduce((s, e) => s + e.value, 0),
    pictureShift: shifts.filter(e => !e.hadRecentInput && movesPicture(e)).reduce((s, e) => s + e.value, 0),
    shifts: shifts.map(e => e.value.toFixed(4) + ' at ' + Math.round(e.startTime) + ' ms: ' +
      (e.sources || []).map(s => describe(s.node) + ' ' + rect(s.previousRect) + ' -> ' + rect(s.currentRect)).join('; ')),
    pictures,
  };
})()`

// checkPictures applies the rules of a good srcset to every picture of a
// page on device d, and returns a row of the device's table per picture:
//
//   - the browser takes the candidate of the <source> whose media matches
//     (with art direction, the crop of this viewport);
//   - the picture is painted as wide as its sizes say (the CSS and the
//     layout agree), so the browser's choice, made from sizes before the
//     CSS is known, is made for the painted width;
//   - one download per picture, the candidate shown;
//   - crisp: the candidate is at least the width needed (painted width
//     times the device pixel ratio), unless it is the widest, or Chromium's
//     rule took the one below (see chromiumBelow);
//   - at most maxBrowserWaste times the width needed.
//
// It also checks that the page does not scroll sideways, and that no
// picture moves as the pictures load: on the post page, nothing moves at
// all (a cumulative layout shift of 0).
func checkPictures(t *testing.T, d device, page string, r pageReport) []string {
	t.Helper()
	assert.Equal(t, d.dpr, r.DPR, "%s %s: device pixel ratio", d, page)
	assert.Equal(t, float64(d.w), r.InnerWidth, "%s %s: viewport width", d, page)
	assert.Equal(t, r.InnerWidth, r.ClientWidth, "%s %s: a scrollbar takes width from the layout", d, page)
	assert.LessOrEqual(t, r.ScrollWidth, r.ClientWidth, "%s %s scrolls sideways", d, page)
	// No picture may shift: on the art-directed post page the <source>
	// elements' width and height keep the box of each range's crop. A
	// shift that moves no picture (the post page's text column settling
	// on a loaded runner, a font late by a frame) is not this test's
	// business, but is logged.
	assert.Zero(t, r.PictureShift, "%s %s: layout shifts moved pictures: %v", d, page, r.Shifts)
	if r.CLS > 0 {
		t.Logf("%s %s: layout shifts that moved no picture: %v", d, page, r.Shifts)
	}
	require.NotEmpty(t, r.Pictures, "%s %s has no pictures", d, page)
	var rows []string
	for i, p := range r.Pictures {
		where := fmt.Sprintf("%s %s picture %d (%s %q, painted %.2f px at %gx, media %q, sizes %q)", d, page, i, p.Kind, p.Alt, p.Painted, d.dpr, p.Media, p.Sizes)
		if len(p.Candidates) == 0 {
			t.Errorf("%s has no <source> for this viewport: not processed?", where)
			continue
		}
		if p.Current == p.Fallback {
			t.Errorf("%s shows the JPEG fallback", where)
		}
		cands := slices.SortedFunc(slices.Values(p.Candidates), func(a, b candidate) int { return a.W - b.W })
		ci := slices.IndexFunc(cands, func(c candidate) bool { return c.URL == p.Current })
		if ci < 0 {
			t.Errorf("%s: %s is not a candidate of its <source>", where, p.Current)
			continue
		}
		if math.Abs(p.Painted-p.SizesWidth) >= 1 {
			t.Errorf("%s: painted %.2f px wide, its sizes say %.2f px", where, p.Painted, p.SizesWidth)
		}
		distinct := slices.Compact(slices.Sorted(slices.Values(p.Downloaded)))
		if len(distinct) != 1 || distinct[0] != p.Current {
			t.Errorf("%s downloaded %v, shows %s", where, distinct, p.Current)
		}

		chosen, needed := float64(cands[ci].W), p.Painted*d.dpr
		note := ""
		switch {
		case chosen >= needed-0.01:
		case ci == len(cands)-1:
			note = "widest (the source's full crop)"
		case chromiumBelow(float64(cands[ci+1].W), chosen, needed):
			note = fmt.Sprintf("Chromium's pick below %dw", cands[ci+1].W)
		default:
			t.Errorf("%s: chose %.0fw, needs %.1f (blurry)", where, chosen, needed)
		}
		if chosen > maxBrowserWaste*needed {
			t.Errorf("%s: chose %.0fw for %.1f px (%.2f times)", where, chosen, needed, chosen/needed)
		}
		crop := "original"
		if m := cropDir.FindStringSubmatch(p.Current); m != nil {
			crop = m[1] + "/" + m[2]
		}
		rows = append(rows, fmt.Sprintf("%-16s %-8s %-40s %7.0f %8.1f %6.3f  %s %s", d, page,
			fmt.Sprintf("%d %s %s", i, p.Kind, crop), chosen, needed, chosen/needed, p.Media, note))
	}
	return rows
}

// cropDir finds the ratio directory of a variant's URL (".../4_5/864w.avif").
var cropDir = regexp.MustCompile(`/(\d+)_(\d+)/\d+w\.\w+$`)

// chromiumBelow reports whether Chromium takes the candidate of width
// below rather than the narrowest wide enough one, next, for a picture
// needing needed pixels. Chromium's srcset selection (SelectionLogic in
// html_srcset_parser.cc) takes the narrower of the two candidates around
// the device pixel ratio when the ratio is below the geometric mean of
// their densities and above 1: at 2x, 1040w and 1247w around a need of
// 1100 px give 1040w (sqrt(1040 x 1247) = 1139 > 1100). Only the ladder's
// spacing bounds how far below the need that is.
func chromiumBelow(next, below, needed float64) bool {
	return next >= needed-0.01 && below*next >= needed*needed*(1-1e-4)
}

// worstOf is a page's widest and narrowest choice, as ratios to the need,
// and its largest difference between a painted width and its sizes.
type worstOf struct{ waste, lowest, offSizes float64 }

func worst(r pageReport, dpr float64) worstOf {
	w := worstOf{lowest: math.Inf(1)}
	for _, p := range r.Pictures {
		w.offSizes = max(w.offSizes, math.Abs(p.Painted-p.SizesWidth))
		for _, c := range p.Candidates {
			if c.URL == p.Current && p.Painted > 0 {
				ratio := float64(c.W) / (p.Painted * dpr)
				w.waste, w.lowest = max(w.waste, ratio), min(w.lowest, ratio)
			}
		}
	}
	return w
}
