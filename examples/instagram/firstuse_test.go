package main

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/accessibility"
	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	cdpnetwork "github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestFirstUse is the first-use check of the app on phones, tablets and
// desktops, in Chromium: the top bar fits (no sideways scroll, "Log out"
// on one line, the logo clear of the icons), every link and button has an
// accessible name, each page has one h1, the comment box shows where the
// focus is and Enter posts a comment, and a like without JavaScript
// comes back to the post liked rather than to the top of the feed.
func TestFirstUse(t *testing.T) {
	path := chromiumPath(t)
	a := startApp(t)
	bob := a.client()
	bob.signup("bob")
	require.Equal(t, http.StatusSeeOther, bob.upload("/settings", map[string]string{"name": "Bob"}, "avatar", "bob.jpg", photo(t, 300, 300)).status)
	var ids []int64
	for i := range 6 {
		ids = append(ids, bob.newPost(fmt.Sprintf("Bob's photo %d", i), photo(t, 800, 1000)))
	}
	carol := a.client()
	carol.signup("carol")
	require.Equal(t, http.StatusSeeOther, carol.upload("/settings", map[string]string{"name": "Carol"}, "avatar", "carol.jpg", photo(t, 300, 300)).status)
	require.Equal(t, http.StatusSeeOther, carol.post("/u/bob/follow", nil).status)
	u, _ := url.Parse(a.URL)
	var session cdpnetwork.SetCookieParams
	for _, c := range carol.http.Jar.Cookies(u) {
		if c.Name == sessionName {
			session = cdpnetwork.SetCookieParams{Name: c.Name, Value: c.Value, URL: a.URL, Path: "/"}
		}
	}
	require.NotEmpty(t, session.Value)

	ctx := browser(t, path)
	pages := []struct{ name, path string }{
		{"feed", "/"}, {"explore", "/explore"}, {"post", fmt.Sprintf("/p/%d", ids[0])},
		{"profile", "/u/bob"}, {"new", "/new"}, {"settings", "/settings"},
	}
	for i, d := range devices {
		t.Run(d.String(), func(t *testing.T) {
			for _, pg := range pages {
				open(t, ctx, d, a.URL+pg.path, session, true, func(pctx context.Context) {
					checkTopBar(t, pctx, d, pg.name)
					// Names: on the smallest phone and a desktop, whose
					// top bars differ (icons alone, icons and labels).
					if i == 0 || devices[i].w == 1440 {
						checkNames(t, pctx, d, pg.name)
					}
					assert.Equal(t, 1, eval[int](t, pctx, `document.querySelectorAll("h1").length`), "%s %s: one h1", d, pg.name)
				})
			}
		})
	}

	// The comment box: a visible focus ring, and Enter posts.
	open(t, ctx, devices[2], a.URL+fmt.Sprintf("/p/%d", ids[0]), session, true, func(pctx context.Context) {
		step(t, pctx, "focus the comment box", chromedp.Focus(chromedp.CSS("#body")))
		ring := eval[map[string]string](t, pctx, `(() => { const s = getComputedStyle(document.querySelector("#body"));
		  return {style: s.outlineStyle, width: s.outlineWidth, shadow: s.boxShadow}; })()`)
		assert.True(t, (ring["style"] != "none" && ring["width"] != "0px") || ring["shadow"] != "none",
			"the focused comment box shows a focus ring: %v", ring)
		step(t, pctx, "type a comment and press Enter",
			chromedp.SendKeys(chromedp.CSS("#body"), "Lovely light"+kb.Enter),
			chromedp.WaitVisible(chromedp.Search(`//p[contains(@class, "comment") and contains(., "Lovely light")]`)),
		)
		assert.Equal(t, "", eval[string](t, pctx, `document.querySelector("#body").value`), "the box is empty after posting")
	})
	got := carol.get(fmt.Sprintf("/p/%d", ids[0])).body
	assert.Equal(t, 1, strings.Count(got, "Lovely light"), "one comment, posted by Enter")

	// A like without JavaScript comes back to the card that was liked.
	target := ids[2] // the fourth card of the feed, newest first: below the fold on a phone
	open(t, ctx, devices[2], a.URL+"/", session, false, func(pctx context.Context) {
		sel := fmt.Sprintf(`form.like[action="/p/%d/like"] button`, target)
		step(t, pctx, "like without JavaScript",
			chromedp.ScrollIntoView(chromedp.CSS(sel)),
			chromedp.Click(chromedp.CSS(sel)),
			chromedp.WaitVisible(chromedp.CSS(sel+`[aria-pressed="true"]`)),
		)
		loc := eval[string](t, pctx, `location.pathname + location.hash`)
		assert.Equal(t, fmt.Sprintf("/#post-%d", target), loc)
		box := eval[map[string]float64](t, pctx, fmt.Sprintf(`(() => { const r = document.querySelector(%q).getBoundingClientRect();
		  return {top: r.top, bottom: r.bottom, vh: innerHeight, y: scrollY}; })()`, sel))
		assert.Greater(t, box["y"], 0.0, "the page is not at the top: %v", box)
		assert.True(t, box["top"] >= 56 && box["bottom"] <= box["vh"], "the liked button is in view, below the top bar: %v", box)
	})
}

// open opens url on device d in a fresh browser context with the session
// cookie, JavaScript on or off, waits for the page to load, then calls
// then.
func open(t *testing.T, ctx context.Context, d device, url string, session cdpnetwork.SetCookieParams, js bool, then func(context.Context)) {
	t.Helper()
	pctx, cancel := chromedp.NewContext(ctx, chromedp.WithNewBrowserContext())
	defer cancel()
	require.NoError(t, chromedp.Do(pctx))
	opts := []chromedp.EmulateViewportOption{chromedp.EmulateScale(d.dpr)}
	if d.mobile() {
		opts = append(opts, chromedp.EmulateMobile, chromedp.EmulatePortrait)
	}
	step(t, pctx, "open "+url,
		chromedp.EmulateViewport(d.w, d.h, opts...),
		chromedp.Func(func(ctx context.Context, tgt *chromedp.Target) error {
			if !js {
				if _, err := cdp.Call(ctx, tgt, emulation.SetScriptExecutionDisabled, emulation.SetScriptExecutionDisabledParams{Value: true}); err != nil {
					return err
				}
			}
			_, err := cdp.Call(ctx, tgt, cdpnetwork.SetCookie, session)
			return err
		}),
		chromedp.Navigate(url),
		chromedp.WaitReady(chromedp.CSS("main")),
	)
	// Fonts decide the widths measured below.
	eval[bool](t, pctx, `document.fonts.ready.then(() => true)`)
	then(pctx)
}

// checkTopBar checks that the top bar fits the screen: the page is no
// wider than the viewport, nothing in the bar is clipped or wraps, and the
// logo keeps a gap from the first icon.
func checkTopBar(t *testing.T, ctx context.Context, d device, page string) {
	t.Helper()
	m := eval[map[string]float64](t, ctx, `(() => {
	  const bar = document.querySelector(".topbar-inner"), logo = bar.querySelector(".logo");
	  const items = [...bar.querySelectorAll(".nav > *")].map(e => e.getBoundingClientRect());
	  const out = {scrollWidth: document.documentElement.scrollWidth, innerWidth: innerWidth,
	    logoRight: logo.getBoundingClientRect().right, logoClipped: logo.scrollWidth > logo.clientWidth + 1 ? 1 : 0,
	    navLeft: Math.min(...items.map(r => r.left)), navRight: Math.max(...items.map(r => r.right)),
	    barHeight: bar.getBoundingClientRect().height, wrapped: 0};
	  for (const e of bar.querySelectorAll("a, button")) {
	    if (e.textContent.trim() && e.getClientRects().length && e.getBoundingClientRect().height > 1.6 * parseFloat(getComputedStyle(e).lineHeight || 20)) out.wrapped++;
	  }
	  return out; })()`)
	where := fmt.Sprintf("%s %s", d, page)
	assert.LessOrEqual(t, m["scrollWidth"], m["innerWidth"], "%s: the page scrolls sideways: %v", where, m)
	assert.LessOrEqual(t, m["navRight"], m["innerWidth"], "%s: the top bar's last item is cut off: %v", where, m)
	assert.GreaterOrEqual(t, m["navLeft"]-m["logoRight"], 12.0, "%s: the logo touches the first icon: %v", where, m)
	assert.Zero(t, m["logoClipped"], "%s: the logo is clipped: %v", where, m)
	assert.Zero(t, m["wrapped"], "%s: a top bar item wraps onto two lines: %v", where, m)
}

// checkNames checks, in Chromium's accessibility tree, that every link,
// button and text box has a name.
func checkNames(t *testing.T, ctx context.Context, d device, page string) {
	t.Helper()
	sctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	tree, err := chromedp.Call(sctx, accessibility.GetFullAXTree, accessibility.GetFullAXTreeParams{})
	require.NoError(t, err)
	for _, n := range tree.Nodes {
		if n.Ignored || n.Role == nil {
			continue
		}
		role := strings.Trim(string(n.Role.Value), `"`)
		switch role {
		case "link", "button", "textbox":
		default:
			continue
		}
		name := ""
		if n.Name != nil {
			name = strings.Trim(string(n.Name.Value), `"`)
		}
		assert.NotEmpty(t, strings.TrimSpace(name), "%s %s: a %s without a name (DOM node %d)", d, page, role, n.BackendDOMNodeID)
	}
}
