package main

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"io"
	"io/fs"
	"log/slog"
	"mime/multipart"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/crypto/bcrypt"

	"github.com/gopictures/pictures"
)

// testApp is the app running on a free port over a temporary directory.
type testApp struct {
	*Main
	t   testing.TB
	dir string
}

func startApp(t testing.TB, edit ...func(*Config)) *testApp {
	t.Helper()
	dir := t.TempDir()
	cfg := Config{Addr: "127.0.0.1:0", DataDir: dir, BcryptCost: bcrypt.MinCost,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
	for _, e := range edit {
		e(&cfg)
	}
	m := NewMain(cfg)
	require.NoError(t, m.Run(context.Background()))
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		m.Close(ctx)
	})
	return &testApp{Main: m, t: t, dir: dir}
}

// mediaFiles lists the keys stored: the files of the media directory (the
// variants) and of the originals directory.
func (a *testApp) mediaFiles() []string {
	return append(a.files("media"), a.files("originals")...)
}

// files lists the keys stored in the data directory's folder dir.
func (a *testApp) files(dir string) []string {
	var files []string
	filepath.WalkDir(filepath.Join(a.dir, dir), func(p string, e fs.DirEntry, err error) error {
		if err == nil && !e.IsDir() && !strings.HasPrefix(e.Name(), ".") {
			rel, _ := filepath.Rel(filepath.Join(a.dir, dir), p)
			files = append(files, filepath.ToSlash(rel))
		}
		return nil
	})
	return files
}

// client is a browser-like user of the app: it keeps cookies and does not
// follow redirects, so tests see them.
type client struct {
	t    testing.TB
	base string
	http *http.Client
}

func (a *testApp) client() *client {
	jar, _ := cookiejar.New(nil)
	return &client{t: a.t, base: a.URL, http: &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error {
		return http.ErrUseLastResponse
	}}}
}

type response struct {
	status   int
	location string
	body     string
	header   http.Header
}

func (c *client) do(req *http.Request) response {
	c.t.Helper()
	res, err := c.http.Do(req)
	require.NoError(c.t, err)
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	require.NoError(c.t, err)
	return response{res.StatusCode, res.Header.Get("Location"), string(body), res.Header}
}

func (c *client) get(path string) response {
	req, _ := http.NewRequest("GET", c.base+path, nil)
	return c.do(req)
}

func (c *client) post(path string, form url.Values, header ...string) response {
	req, _ := http.NewRequest("POST", c.base+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	return c.do(req)
}

func (c *client) upload(path string, fields map[string]string, fileField, filename string, data []byte) response {
	var body bytes.Buffer
	w := multipart.NewWriter(&body)
	for k, v := range fields {
		w.WriteField(k, v)
	}
	if fileField != "" {
		fw, _ := w.CreateFormFile(fileField, filename)
		fw.Write(data)
	}
	w.Close()
	req, _ := http.NewRequest("POST", c.base+path, &body)
	req.Header.Set("Content-Type", w.FormDataContentType())
	return c.do(req)
}

func (c *client) signup(username string) {
	c.t.Helper()
	res := c.post("/signup", url.Values{"username": {username}, "name": {strings.ToUpper(username)}, "password": {"correct horse"}})
	require.Equal(c.t, http.StatusSeeOther, res.status, res.body)
}

// newPost uploads a photo and returns the post's id.
func (c *client) newPost(caption string, photo []byte) int64 {
	c.t.Helper()
	res := c.upload("/new", map[string]string{"caption": caption}, "photo", "photo.jpg", photo)
	require.Equal(c.t, http.StatusSeeOther, res.status, res.body)
	var id int64
	_, err := fmt.Sscanf(res.location, "/p/%d", &id)
	require.NoError(c.t, err, res.location)
	return id
}

// postJSON reads a post's JSON.
func (c *client) postJSON(id int64) map[string]any {
	c.t.Helper()
	res := c.get(fmt.Sprintf("/api/posts/%d", id))
	require.Equal(c.t, 200, res.status, res.body)
	var m map[string]any
	require.NoError(c.t, json.Unmarshal([]byte(res.body), &m))
	return m
}

// waitProcessed polls a post until its variants are all generated.
func (c *client) waitProcessed(id int64) map[string]any {
	c.t.Helper()
	deadline := time.Now().Add(3 * time.Minute)
	for time.Now().Before(deadline) {
		if m := c.postJSON(id); m["processing"] == false {
			return m
		}
		time.Sleep(100 * time.Millisecond)
	}
	c.t.Fatalf("post %d was not processed in time", id)
	return nil
}

// photo is a generated w x h JPEG.
func photo(t testing.TB, w, h int) []byte {
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			img.SetRGBA(x, y, color.RGBA{uint8(x * 255 / w), uint8(y * 255 / h), 128, 255})
		}
	}
	var buf bytes.Buffer
	require.NoError(t, jpeg.Encode(&buf, img, nil))
	return buf.Bytes()
}

func TestAnonymousVisitors(t *testing.T) {
	a := startApp(t)
	c := a.client()
	assert.Equal(t, 200, c.get("/explore").status, "explore is public")
	assert.Equal(t, 200, c.get("/login").status)
	assert.Equal(t, 200, c.get("/signup").status)
	assert.Equal(t, 404, c.get("/u/nobody").status)
	assert.Equal(t, 404, c.get("/p/1").status)
	assert.Equal(t, 404, c.get("/p/abc").status)
	res := c.get("/")
	assert.Equal(t, http.StatusSeeOther, res.status, "the feed needs a login")
	assert.Equal(t, "/login?next=%2F", res.location)
	assert.Equal(t, "/login?next=%2Fnew", c.get("/new").location)
	res = c.post("/p/1/like", nil)
	assert.Equal(t, http.StatusSeeOther, res.status)
	assert.True(t, strings.HasPrefix(res.location, "/login"), res.location)
	res = c.get("/static/app.css")
	assert.Equal(t, 200, res.status)
	assert.Equal(t, "nosniff", res.header.Get("X-Content-Type-Options"))
	assert.Contains(t, c.get("/explore").header.Get("Content-Security-Policy"), "script-src 'self'")
}

func TestAccounts(t *testing.T) {
	a := startApp(t)
	c := a.client()
	for _, tc := range []struct {
		username, password, msg string
	}{
		{"", "correct horse", "Usernames are 1 to 30"},
		{"bad name!", "correct horse", "Usernames are 1 to 30"},
		{".dot", "correct horse", "Usernames are 1 to 30"},
		{"ok", "short", "at least 8 characters"},
	} {
		res := c.post("/signup", url.Values{"username": {tc.username}, "password": {tc.password}})
		assert.Equal(t, http.StatusUnprocessableEntity, res.status, tc.username)
		assert.Contains(t, res.body, tc.msg)
	}
	c.signup("ada")
	assert.Equal(t, 200, c.get("/").status, "signed up and logged in")
	res := a.client().post("/signup", url.Values{"username": {"ADA"}, "password": {"correct horse"}})
	assert.Contains(t, res.body, "That username is taken", "usernames are case-insensitive")

	// Session cookies are HttpOnly and SameSite.
	res = a.client().post("/login", url.Values{"username": {"ada"}, "password": {"correct horse"}, "next": {"/explore"}})
	assert.Equal(t, http.StatusSeeOther, res.status)
	assert.Equal(t, "/explore", res.location)
	cookie := res.header.Get("Set-Cookie")
	assert.Contains(t, cookie, "HttpOnly")
	assert.Contains(t, cookie, "SameSite=Lax")

	assert.Equal(t, "/", a.client().post("/login", url.Values{"username": {"ada"}, "password": {"correct horse"}, "next": {"//evil.example/x"}}).location,
		"login never redirects off-site")
	assert.Equal(t, http.StatusUnauthorized, a.client().post("/login", url.Values{"username": {"ada"}, "password": {"wrong one"}}).status)
	assert.Equal(t, http.StatusUnauthorized, a.client().post("/login", url.Values{"username": {"nobody"}, "password": {"wrong one"}}).status)

	res = c.post("/logout", nil)
	assert.Equal(t, http.StatusSeeOther, res.status)
	assert.Equal(t, http.StatusSeeOther, c.get("/").status, "logged out")
}

func TestLoginThrottle(t *testing.T) {
	a := startApp(t)
	a.client().signup("grace")
	c := a.client()
	for range 5 {
		assert.Equal(t, http.StatusUnauthorized, c.post("/login", url.Values{"username": {"grace"}, "password": {"guess"}}).status)
	}
	res := c.post("/login", url.Values{"username": {"grace"}, "password": {"correct horse"}})
	assert.Equal(t, http.StatusTooManyRequests, res.status, "even the right password waits after 5 failures")
	assert.Contains(t, res.body, "Too many failed attempts. Try again in 15 minutes.")
}

// TestUploadProcessAndFeed is the main path: a photo is uploaded, shown
// from its preview while processing, processed in the background, then
// served as AVIF in the feed; the original is never served.
func TestUploadProcessAndFeed(t *testing.T) {
	a := startApp(t)
	c := a.client()
	c.signup("ada")
	data, err := os.ReadFile("../../testdata/photos/dandelion-1600.jpg")
	require.NoError(t, err)
	id := c.newPost("Dandelion seeds", data)

	m := c.waitProcessed(id)
	img := m["image"].(map[string]any)
	assert.EqualValues(t, 1600, img["width"])
	assert.EqualValues(t, 900, img["height"])
	ratios := img["ratios"].(map[string]any)
	for _, r := range []string{"original", "1/1", "4/5"} {
		require.Contains(t, ratios, r)
		sources := ratios[r].(map[string]any)["sources"].(map[string]any)["image/avif"].(map[string]any)
		assert.NotEmpty(t, sources, r)
		for _, u := range sources {
			res := c.get(u.(string))
			assert.Equal(t, 200, res.status, u)
			assert.Equal(t, "image/avif", res.header.Get("Content-Type"))
		}
	}
	body, _ := json.Marshal(m)
	var original string
	for _, f := range a.mediaFiles() {
		if strings.Count(f, "/") == 4 { // posts/Y/m/d/<name>.jpeg
			original = f
		}
	}
	require.NotEmpty(t, original)
	assert.Equal(t, []string{original}, a.files("originals"), "the original is kept apart")
	assert.NotContains(t, a.files("media"), original)
	assert.NotContains(t, string(body), original, "the JSON never gives the original")
	assert.Equal(t, 404, c.get("/media/"+original).status, "the original is never served")

	feed := c.get("/")
	assert.Equal(t, 200, feed.status)
	assert.Contains(t, feed.body, `<source type="image/avif"`)
	assert.Contains(t, feed.body, "Dandelion seeds")
	assert.NotContains(t, feed.body, "Generating sizes")
	// The post page is art-directed: the whole photo from 768 px, a 4/5
	// crop below, with the sizes that the JSON gives API clients.
	post := c.get(fmt.Sprintf("/p/%d", id))
	const postSizes = "(max-width: 767.98px) 100vw, (max-width: 934.98px) 66.6667vw, 623.33px"
	assert.Contains(t, post.body, `<source media="(min-width: 768px)" type="image/avif"`)
	assert.Contains(t, post.body, `sizes="`+postSizes+`" width="1600" height="900">`)
	assert.Contains(t, post.body, `sizes="`+postSizes+`" width="720" height="900">`)
	layouts := img["layouts"].(map[string]any)
	assert.Equal(t, postSizes, layouts["post"].(map[string]any)["sizes"])
	assert.Equal(t, []any{
		map[string]any{"min_width": 768.0, "ratio": "original"},
		map[string]any{"min_width": 0.0, "ratio": "4/5"},
	}, layouts["post"].(map[string]any)["ranges"])
	for name, page := range map[string]string{"feed": feed.body, "tile": c.get("/explore").body} {
		sizes := layouts[name].(map[string]any)["sizes"].(string)
		assert.Regexp(t, `sizes="(auto, )?`+regexp.QuoteMeta(sizes)+`"`, page, "the %s's sizes on the page and in the JSON", name)
	}
}

func TestUploadRefusals(t *testing.T) {
	a := startApp(t, func(c *Config) { c.MaxUploadBytes = 1 << 20 })
	c := a.client()
	c.signup("ada")
	for _, tc := range []struct {
		name    string
		fields  map[string]string
		file    string
		data    []byte
		status  int
		message string
	}{
		{"too small", nil, "tiny.jpg", photo(t, 200, 300), 422, `&#34;tiny.jpg&#34; is 200×300 pixels; it must be at least 320×320.`},
		{"not an image", nil, "notes.jpg", []byte("hello, world"), 422, `&#34;notes.jpg&#34; is not an image we can read`},
		{"too many bytes", nil, "big.jpg", bytes.Repeat([]byte{0xFF}, 2<<20), 422, "The file is larger than 1 MB."},
		{"no file", map[string]string{"caption": "x"}, "", nil, 422, "Choose a photo to share."},
		{"caption too long", map[string]string{"caption": strings.Repeat("é", 2201)}, "ok.jpg", photo(t, 400, 400), 422, "The caption is 2201 characters long; the limit is 2200."},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := c.upload("/new", tc.fields, map[bool]string{true: "photo", false: ""}[tc.file != ""], tc.file, tc.data)
			assert.Equal(t, tc.status, res.status)
			assert.Contains(t, res.body, tc.message)
			assert.Empty(t, a.mediaFiles(), "a refused upload stores nothing")
		})
	}
	assert.Contains(t, c.upload("/new", map[string]string{"caption": "keep me"}, "photo", "x.jpg", []byte("nope")).body, "keep me",
		"the form keeps the caption")
	// A file far beyond the limit cuts the body short, after the caption.
	res := c.upload("/new", map[string]string{"caption": "keep me too"}, "photo", "big.jpg", bytes.Repeat([]byte{0xFF}, 8<<20))
	assert.Equal(t, 422, res.status)
	assert.Contains(t, res.body, "The file is larger than 1 MB.")
	assert.Contains(t, res.body, ">keep me too</textarea>", "a file too large keeps the caption")
	res = c.upload("/settings", map[string]string{"name": "Ada Lovelace", "bio": "Notes on engines"}, "avatar", "big.jpg", bytes.Repeat([]byte{0xFF}, 8<<20))
	assert.Equal(t, 422, res.status)
	assert.Contains(t, res.body, `value="Ada Lovelace"`, "a file too large keeps the name")
	assert.Contains(t, res.body, ">Notes on engines</textarea>", "and the bio")
	assert.Empty(t, a.mediaFiles())
}

// TestNoScriptLikeComesBack: a like posted without JavaScript redirects
// to the page it came from, at the post liked.
func TestNoScriptLikeComesBack(t *testing.T) {
	a := startApp(t)
	c := a.client()
	c.signup("ada")
	id := c.newPost("", photo(t, 400, 400))
	res := c.post(fmt.Sprintf("/p/%d/like", id), nil, "Referer", a.URL+"/?before=99")
	assert.Equal(t, http.StatusSeeOther, res.status)
	assert.Equal(t, fmt.Sprintf("/?before=99#post-%d", id), res.location)
	assert.Contains(t, c.get("/").body, fmt.Sprintf(`<article class="card" id="post-%d">`, id), "the feed's card has the id")
	res = c.post(fmt.Sprintf("/p/%d/like", id), nil)
	assert.Equal(t, fmt.Sprintf("/p/%d#post-%d", id, id), res.location, "no referrer: the post's page")
}

// TestExploreWhileSeeding: while the demo is being added, an empty
// explore page says so instead of "Nothing here yet".
func TestExploreWhileSeeding(t *testing.T) {
	a := startApp(t, func(c *Config) { c.NoPageCache = true })
	c := a.client()
	a.seeding.Store(true)
	body := c.get("/explore").body
	assert.Contains(t, body, "The demo's photos are being added.")
	assert.NotContains(t, body, "Nothing here yet")
	a.seeding.Store(false)
	body = c.get("/explore").body
	assert.Contains(t, body, "Nothing here yet")
	assert.NotContains(t, body, "being added")
}

func TestLikesCommentsAndDeletion(t *testing.T) {
	a := startApp(t)
	ada, bob := a.client(), a.client()
	ada.signup("ada")
	bob.signup("bob")
	id := ada.newPost("Hello", photo(t, 400, 400))
	p := fmt.Sprintf("/p/%d", id)

	// Without JavaScript: a form post and a redirect back.
	res := bob.post(p+"/like", nil, "Referer", bob.base+p)
	assert.Equal(t, http.StatusSeeOther, res.status)
	assert.Equal(t, p+fmt.Sprintf("#post-%d", id), res.location)
	assert.EqualValues(t, 1, bob.postJSON(id)["likes"])
	// With htmx: the button comes back as a fragment.
	res = bob.post(p+"/like", nil, "HX-Request", "true")
	assert.Equal(t, 200, res.status)
	assert.Contains(t, res.body, `aria-pressed="false"`)
	assert.Contains(t, res.body, `<span class="likes">0</span> likes`)
	assert.NotContains(t, res.body, "<html")
	res = bob.post(p+"/like", nil, "HX-Request", "true")
	assert.Contains(t, res.body, `aria-pressed="true"`)
	assert.Contains(t, res.body, `<span class="likes">1</span> like<`)

	res = bob.post(p+"/comments", url.Values{"body": {"Nice one"}})
	assert.Equal(t, p+"#comments", res.location)
	page := bob.get(p).body
	assert.Contains(t, page, "Nice one")
	assert.EqualValues(t, 1, bob.postJSON(id)["comments"])
	commentID := regexp.MustCompile(`/comments/(\d+)/delete`).FindStringSubmatch(page)
	require.NotNil(t, commentID, "bob sees a delete button on his comment")
	assert.NotContains(t, ada.get(p).body, "/comments/"+commentID[1]+"/delete", "ada does not see one on bob's comment")
	assert.Equal(t, http.StatusForbidden, ada.post("/comments/"+commentID[1]+"/delete", nil).status, "nobody else may delete a comment")
	assert.Equal(t, http.StatusSeeOther, bob.post("/comments/"+commentID[1]+"/delete", nil).status)
	assert.NotContains(t, bob.get(p).body, "Nice one")

	// Only the author deletes a post, and every file goes with it.
	ada.waitProcessed(id)
	require.NotEmpty(t, a.mediaFiles())
	assert.Equal(t, http.StatusForbidden, bob.post(p+"/delete", nil).status)
	assert.Equal(t, http.StatusSeeOther, ada.post(p+"/delete", nil).status)
	assert.Equal(t, 404, ada.get(p).status)
	assert.Empty(t, a.mediaFiles(), "the original and every variant are deleted")
}

func TestFollowsShapeTheFeed(t *testing.T) {
	a := startApp(t)
	ada, bob := a.client(), a.client()
	ada.signup("ada")
	bob.signup("bob")
	bob.newPost("Bob's view", photo(t, 400, 400))
	assert.NotContains(t, ada.get("/").body, "Bob&#39;s view")
	res := ada.post("/u/bob/follow", nil)
	assert.Equal(t, "/u/bob", res.location)
	assert.Contains(t, ada.get("/").body, "Bob&#39;s view")
	profile := ada.get("/u/bob").body
	assert.Contains(t, profile, `<strong class="followers">1</strong> follower`)
	assert.Contains(t, profile, ">Following</button>")
	ada.post("/u/bob/follow", nil)
	assert.NotContains(t, ada.get("/").body, "Bob&#39;s view")
	assert.Equal(t, http.StatusForbidden, ada.post("/u/ada/follow", nil).status, "nobody follows themselves")
}

func TestProfileSettingsAndAvatar(t *testing.T) {
	a := startApp(t)
	c := a.client()
	c.signup("ada")
	res := c.upload("/settings", map[string]string{"bio": strings.Repeat("x", 151)}, "", "", nil)
	assert.Equal(t, 422, res.status)
	assert.Contains(t, res.body, "The bio is 151 characters long; the limit is 150.")
	res = c.upload("/settings", nil, "avatar", "me.jpg", photo(t, 100, 100))
	assert.Equal(t, 422, res.status)
	assert.Contains(t, res.body, "must be at least 150×150")
	assert.Empty(t, a.mediaFiles())

	res = c.upload("/settings", map[string]string{"name": "Ada L.", "bio": "Engines."}, "avatar", "me.jpg", photo(t, 300, 300))
	assert.Equal(t, http.StatusSeeOther, res.status, res.body)
	profile := c.get("/u/ada").body
	assert.Contains(t, profile, "Engines.")
	assert.Contains(t, profile, `class="avatar avatar-lg"`)
	var first []string
	for _, f := range a.mediaFiles() {
		if regexp.MustCompile(`^avatars/\d{4}/\d{2}/[a-z2-7]+-[a-z2-7]{26}\.jpeg$`).MatchString(f) {
			first = append(first, f)
		}
	}
	require.Len(t, first, 1, "the original avatar")

	// A new avatar replaces the old one at once, while the old one may
	// still be processing: none of its files may survive.
	res = c.upload("/settings", map[string]string{"name": "Ada L.", "bio": "Engines."}, "avatar", "new.jpg", photo(t, 400, 400))
	require.Equal(t, http.StatusSeeOther, res.status)
	require.NoError(t, a.pool.Wait(context.Background()))
	files := a.mediaFiles()
	assert.NotEmpty(t, files)
	for _, f := range files {
		assert.NotContains(t, f, first[0][:strings.LastIndexByte(first[0], '-')], "the old avatar's files are gone")
	}
}

func TestUserContentIsEscaped(t *testing.T) {
	a := startApp(t)
	c := a.client()
	c.signup("mallory")
	evil := `<script>alert("x")</script><img src=x onerror=alert(1)>`
	id := c.newPost(evil, photo(t, 400, 400))
	c.post(fmt.Sprintf("/p/%d/comments", id), url.Values{"body": {evil}})
	c.upload("/settings", map[string]string{"name": evil[:40], "bio": evil}, "", "", nil)
	for _, path := range []string{"/", "/explore", fmt.Sprintf("/p/%d", id), "/u/mallory"} {
		body := c.get(path).body
		assert.NotContains(t, body, "<script>alert", path)
		assert.NotContains(t, body, "<img src=x", path)
		assert.Contains(t, body, "&lt;script&gt;alert(", path)
	}
}

func TestCrossOriginPostsAreRefused(t *testing.T) {
	a := startApp(t)
	c := a.client()
	c.signup("ada")
	id := c.newPost("x", photo(t, 400, 400))
	like := fmt.Sprintf("/p/%d/like", id)
	assert.Equal(t, http.StatusForbidden, c.post(like, nil, "Sec-Fetch-Site", "cross-site").status)
	assert.Equal(t, http.StatusForbidden, c.post(like, nil, "Origin", "https://evil.example").status)
	assert.Equal(t, http.StatusForbidden, c.post("/logout", nil, "Sec-Fetch-Site", "cross-site").status)
	assert.EqualValues(t, 0, c.postJSON(id)["likes"], "nothing changed")
	assert.Equal(t, http.StatusSeeOther, c.post(like, nil, "Sec-Fetch-Site", "same-origin").status)
	assert.EqualValues(t, 1, c.postJSON(id)["likes"])
}

// seedPosts inserts n posts of user directly, with processed pictures, as
// fast fixtures.
func seedPosts(t testing.TB, a *testApp, userID int64, n int) {
	t.Helper()
	vs, err := a.post.Variants(1080, 1350)
	require.NoError(t, err)
	for i := range n {
		p := pictures.Picture{Field: postImage, Key: fmt.Sprintf("posts/fixture/%d-%d.jpeg", userID, i), Width: 1080, Height: 1350,
			Variants: vs, Version: a.post.Fingerprint(), Preview: "data:image/jpeg;base64,AAAA"}
		_, err := a.db.CreatePost(context.Background(), userID, fmt.Sprintf("Fixture %d of user %d", i, userID), p, time.Now())
		require.NoError(t, err)
	}
}

func userID(t testing.TB, a *testApp, username string) int64 {
	id, _, err := a.db.Credentials(context.Background(), username)
	require.NoError(t, err)
	return id
}

// TestFeedQueryCount proves the feed costs the same few queries whatever
// the number of posts and comments on the page.
func TestFeedQueryCount(t *testing.T) {
	a := startApp(t, func(c *Config) { c.NoPageCache = true })
	big, small := a.client(), a.client()
	big.signup("big")
	small.signup("small")
	seedPosts(t, a, userID(t, a, "big"), 20)
	seedPosts(t, a, userID(t, a, "small"), 2)
	for i := int64(1); i <= 20; i++ {
		for j := range 3 {
			a.db.AddComment(context.Background(), i, userID(t, a, "big"), fmt.Sprintf("comment %d", j), time.Now())
		}
	}
	count := func(c *client) int64 {
		c.get("/") // warms the session cache
		before := a.db.Queries()
		res := c.get("/")
		require.Equal(t, 200, res.status)
		return a.db.Queries() - before
	}
	nBig, nSmall := count(big), count(small)
	body := big.get("/").body
	assert.Equal(t, PageSize, strings.Count(body, `<article class="card" id="post-`))
	assert.Equal(t, nSmall, nBig, "12 posts cost as many queries as 2")
	assert.Equal(t, int64(2), nBig, "one query for the posts, one for their comments")
}

func TestPagination(t *testing.T) {
	a := startApp(t)
	c := a.client()
	c.signup("ada")
	seedPosts(t, a, userID(t, a, "ada"), PageSize+1)
	first := c.get("/").body
	assert.Equal(t, PageSize, strings.Count(first, `<article class="card" id="post-`))
	next := regexp.MustCompile(`href="\?before=(\d+)"`).FindStringSubmatch(first)
	require.NotNil(t, next)
	second := c.get("/?before=" + next[1]).body
	assert.Equal(t, 1, strings.Count(second, `<article class="card" id="post-`))
	assert.NotContains(t, second, "?before=")
	assert.Contains(t, second, "Fixture 0 of user")

	explore := c.get("/explore").body
	assert.Equal(t, PageSize, strings.Count(explore, `class="tile"`))
	assert.Contains(t, explore, `sizes="auto, (max-width: 934.98px) calc(33.3333vw - 3.33px), 308.33px"`)
}

// TestPageCache checks that cached pages never hide a change.
func TestPageCache(t *testing.T) {
	a := startApp(t)
	ada, bob := a.client(), a.client()
	ada.signup("ada")
	bob.signup("bob")
	id := ada.newPost("Cached", photo(t, 400, 400))
	p := fmt.Sprintf("/p/%d", id)
	first := bob.get(p).body
	before := a.db.Queries()
	again := bob.get(p).body
	assert.Equal(t, before, a.db.Queries(), "the second view is served from the cache")
	assert.Equal(t, first, again)
	ada.post(p+"/comments", url.Values{"body": {"Fresh comment"}})
	assert.Contains(t, bob.get(p).body, "Fresh comment", "a write makes cached pages stale")
	assert.NotContains(t, a.client().get(p).body, `aria-pressed`, "pages are cached per viewer: anonymous visitors get no like button")
}

func TestConfig(t *testing.T) {
	env := map[string]string{"INSTAGRAM_ADDR": "0.0.0.0:9000", "INSTAGRAM_DATA": "/srv/ig", "INSTAGRAM_DEMO": "false"}
	cfg, err := parseConfig(nil, func(k string) string { return env[k] })
	require.NoError(t, err)
	assert.Equal(t, "0.0.0.0:9000", cfg.Addr)
	assert.Equal(t, "/srv/ig", cfg.DataDir)
	assert.False(t, cfg.Demo)

	cfg, err = parseConfig([]string{"-addr", ":1", "-demo=true"}, func(k string) string { return env[k] })
	require.NoError(t, err)
	assert.Equal(t, ":1", cfg.Addr, "flags win over the environment")
	assert.True(t, cfg.Demo)

	cfg, err = parseConfig(nil, func(string) string { return "" })
	require.NoError(t, err)
	assert.Equal(t, Config{Addr: "127.0.0.1:8000", DataDir: "./instagram-data", Demo: true, Logger: cfg.Logger, S3: S3Config{Region: "us-east-1", OriginalsPrefix: "originals/"}}, cfg)

	scaled := map[string]string{"INSTAGRAM_DATABASE": "postgres://db/app", "INSTAGRAM_S3_BUCKET": "media", "INSTAGRAM_S3_ENDPOINT": "http://127.0.0.1:7070", "INSTAGRAM_WORKERS": "3"}
	cfg, err = parseConfig([]string{"-s3-prefix", "m/", "-work"}, func(k string) string { return scaled[k] })
	require.NoError(t, err)
	assert.Equal(t, "postgres://db/app", cfg.DatabaseURL)
	assert.Equal(t, S3Config{Bucket: "media", Endpoint: "http://127.0.0.1:7070", Region: "us-east-1", Prefix: "m/", OriginalsPrefix: "originals/"}, cfg.S3)
	assert.Equal(t, 3, cfg.Workers)
	assert.True(t, cfg.Work)

	_, err = parseConfig(nil, func(k string) string { return map[string]string{"INSTAGRAM_WORKERS": "many"}[k] })
	assert.ErrorContains(t, err, "INSTAGRAM_WORKERS")

	_, err = parseConfig(nil, func(k string) string { return map[string]string{"INSTAGRAM_DEMO": "maybe"}[k] })
	assert.Error(t, err)
}

// TestRestartCatchesUp stops the app with photos not yet processed and
// checks that the next start processes them.
func TestRestartCatchesUp(t *testing.T) {
	dir := t.TempDir()
	cfg := Config{Addr: "127.0.0.1:0", DataDir: dir, BcryptCost: bcrypt.MinCost, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
	m := NewMain(cfg)
	require.NoError(t, m.Run(context.Background()))
	a := &testApp{Main: m, t: t, dir: dir}
	c := a.client()
	c.signup("ada")
	// Stop the pool first, so the upload's job is refused and lost.
	require.NoError(t, m.pool.Shutdown(context.Background()))
	id := c.newPost("late", photo(t, 400, 400))
	assert.Equal(t, true, c.postJSON(id)["processing"])
	require.NoError(t, m.Close(context.Background()))

	a = startApp(t, func(c *Config) { c.DataDir = dir })
	c = a.client()
	c.waitProcessed(id)
}

// TestOriginalsMovedAtStart: a data directory of a version that kept the
// originals among the variants (in media/, served by the media handler
// but for its filter) has them moved to originals/ when the app starts,
// and no variant made again.
func TestOriginalsMovedAtStart(t *testing.T) {
	dir := t.TempDir()
	a := startApp(t, func(c *Config) { c.DataDir = dir })
	a.dir = dir
	c := a.client()
	c.signup("ada")
	id := c.newPost("from before", photo(t, 600, 400))
	c.waitProcessed(id)
	require.NoError(t, a.Close(context.Background()))
	// As the version before left it: the original in media/ at the
	// picture's Key, the row without "original" and with a Version
	// without "+originals".
	db, err := sql.Open("sqlite", filepath.Join(dir, "instagram.db"))
	require.NoError(t, err)
	var image string
	require.NoError(t, db.QueryRow(`SELECT image FROM posts WHERE id = ?`, id).Scan(&image))
	var row map[string]any
	require.NoError(t, json.Unmarshal([]byte(image), &row))
	key, original := row["key"].(string), row["original"].(string)
	require.Equal(t, []string{original}, a.files("originals"))
	delete(row, "original")
	row["version"] = strings.TrimSuffix(row["version"].(string), "+originals")
	old, _ := json.Marshal(row)
	_, err = db.Exec(`UPDATE posts SET image = ? WHERE id = ?`, string(old), id)
	require.NoError(t, err)
	require.NoError(t, db.Close())
	require.NoError(t, os.Rename(filepath.Join(dir, "originals", original), filepath.Join(dir, "media", key)))
	variants := a.files("media")
	before := map[string]time.Time{}
	for _, f := range variants {
		info, err := os.Stat(filepath.Join(dir, "media", f))
		require.NoError(t, err)
		before[f] = info.ModTime()
	}

	a = startApp(t, func(c *Config) { c.DataDir = dir })
	a.dir = dir
	require.Eventually(t, func() bool { return len(a.files("originals")) == 1 }, time.Minute, 20*time.Millisecond, "the original moved")
	require.NoError(t, a.pool.Wait(context.Background()))
	moved := a.files("originals")
	require.Len(t, moved, 1)
	assert.NotEqual(t, original, moved[0], "under a new random name")
	assert.NotContains(t, a.files("media"), key)
	for f, mod := range before {
		if f == key {
			continue
		}
		info, err := os.Stat(filepath.Join(dir, "media", f))
		require.NoError(t, err, f)
		assert.Equal(t, mod, info.ModTime(), "%s is not made again", f)
	}
	db, err = sql.Open("sqlite", filepath.Join(dir, "instagram.db"))
	require.NoError(t, err)
	defer db.Close()
	require.NoError(t, db.QueryRow(`SELECT image FROM posts WHERE id = ?`, id).Scan(&image))
	assert.Contains(t, image, "+originals", "the row records the move")
	assert.Contains(t, image, `"original":"`+moved[0]+`"`)
}

// TestPreloadAndBlurUp: the feed's first photo and a post's photo are
// preloaded from <head> with the srcset of the <picture>'s first source,
// and shown over their blurred preview, whose stylesheet the app serves.
func TestPreloadAndBlurUp(t *testing.T) {
	a := startApp(t, func(c *Config) { c.NoPageCache = true })
	c := a.client()
	c.signup("ada")
	c.newPost("older", photo(t, 600, 600))
	id := c.newPost("newest", photo(t, 800, 1000))
	c.waitProcessed(id)
	c.waitProcessed(id - 1)
	css, err := fs.ReadFile(assets, "static/app.css")
	require.NoError(t, err)
	assert.Contains(t, string(css), pictures.PlaceholderCSS, "app.css holds the library's placeholder rules")
	srcset := regexp.MustCompile(`<source type="image/avif"[^>]* srcset="([^"]+)"`)
	for _, path := range []string{"/", fmt.Sprintf("/p/%d", id)} {
		page := c.get(path).body
		head, body, ok := strings.Cut(page, "</head>")
		require.True(t, ok)
		links := regexp.MustCompile(`<link rel="preload" as="image"[^>]*>`).FindAllString(head, -1)
		require.NotEmpty(t, links, "%s: a preload link in <head>", path)
		first := srcset.FindStringSubmatch(body)
		require.NotNil(t, first, "%s: an AVIF source", path)
		found := false
		for _, l := range links {
			found = found || strings.Contains(l, `imagesrcset="`+first[1]+`"`)
		}
		assert.True(t, found, "%s: the preload has the srcset of the first picture's source:\n%s\n%s", path, links, first[1])
		assert.Contains(t, body, `fetchpriority="high"`, path)
		assert.Contains(t, body, `class="pictures-placeholder"`, "%s: blur-up", path)
		assert.Equal(t, 1, strings.Count(body, `fetchpriority="high"`), "%s: one picture has priority", path)
	}
}
