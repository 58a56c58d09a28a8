package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"image"
	"image/png"
	"io"
	"math/rand/v2"
	"mime/multipart"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/crypto/bcrypt"

	"github.com/gopictures/pictures/internal/syncbuf"
	"github.com/gopictures/pictures/processor/riverprocessor/pgtest"
)

// The tests of the defences the README's "Threat model" lists, each over
// HTTP, as an attacker would try them.

// appProcess is the app running in a process of its own (this test binary,
// as TestMain allows), so that a test can read its memory.
type appProcess struct {
	cmd *exec.Cmd
	out *syncbuf.Buffer
	URL string
	dir string // -data
}

var runningAt = regexp.MustCompile(`instagram is running at (http://\S+)`)

func startAppProcess(t testing.TB, flags ...string) *appProcess {
	t.Helper()
	p := &appProcess{out: &syncbuf.Buffer{}, dir: t.TempDir()}
	args := append([]string{"-addr", "127.0.0.1:0", "-data", p.dir, "-demo=false"}, flags...)
	p.cmd = exec.Command(os.Args[0], "-test.run=^$")
	p.cmd.Env = append(os.Environ(), "INSTAGRAM_TEST_MAIN="+strings.Join(args, " "))
	p.cmd.Stdout, p.cmd.Stderr = p.out, p.out
	require.NoError(t, p.cmd.Start())
	t.Cleanup(func() {
		p.cmd.Process.Kill() // its encoder processes die with it
		p.cmd.Wait()
		if t.Failed() {
			t.Logf("app:\n%s", p.out)
		}
	})
	require.Eventually(t, func() bool {
		m := runningAt.FindStringSubmatch(p.out.String())
		if m != nil {
			p.URL = m[1]
		}
		return m != nil
	}, time.Minute, 20*time.Millisecond, "the app did not start:\n%s", p.out)
	return p
}

// peakRSS is the most memory the process held, in MB (VmHWM).
func (p *appProcess) peakRSS(t testing.TB) int {
	t.Helper()
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", p.cmd.Process.Pid))
	require.NoError(t, err)
	m := regexp.MustCompile(`VmHWM:\s+(\d+) kB`).FindSubmatch(status)
	require.NotNil(t, m, "%s", status)
	kb, _ := strconv.Atoi(string(m[1]))
	return kb >> 10
}

// junkUpload is a multipart body of the new-post form: a small JPEG
// followed by junk, n bytes in all, generated as it is sent.
func junkUpload(jpeg []byte, n int64) (body io.Reader, contentType string, length int64) {
	var head, tail bytes.Buffer
	w := multipart.NewWriter(&head)
	w.WriteField("caption", "junk")
	w.CreateFormFile("photo", "junk.jpg")
	head.Write(jpeg)
	boundary := w.Boundary()
	fmt.Fprintf(&tail, "\r\n--%s--\r\n", boundary)
	junk := n - int64(head.Len()+tail.Len())
	return io.MultiReader(&head, io.LimitReader(zeros{}, junk), &tail), w.FormDataContentType(), n
}

type zeros struct{}

func (zeros) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}

// TestUploadMemory sends 16 uploads of 31 MB at once (a small JPEG
// followed by junk), from 16 accounts, to a fresh app process: uploads
// wait for the process-wide upload budget, so its memory stays bounded.
func TestUploadMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("sends 500 MB")
	}
	p := startAppProcess(t)
	img := photo(t, 800, 1000)
	const uploads, size = 16, 31 << 20
	clients := make([]*client, uploads)
	for i := range clients {
		clients[i] = (&testApp{Main: &Main{URL: p.URL}, t: t}).client()
		clients[i].signup(fmt.Sprintf("user%d", i))
	}
	before := p.peakRSS(t)
	var wg sync.WaitGroup
	statuses := make([]int, uploads)
	start := time.Now()
	for i, c := range clients {
		wg.Go(func() {
			body, typ, n := junkUpload(img, size)
			req, _ := http.NewRequest("POST", c.base+"/new", body)
			req.Header.Set("Content-Type", typ)
			req.ContentLength = n
			res, err := c.http.Do(req)
			if !assert.NoError(t, err) {
				return
			}
			io.Copy(io.Discard, res.Body)
			res.Body.Close()
			statuses[i] = res.StatusCode
		})
	}
	wg.Wait()
	peak := p.peakRSS(t)
	t.Logf("%d concurrent uploads of %d MB: peak RSS %d MB (%d MB before them), in %v", uploads, size>>20, peak, before, time.Since(start).Round(time.Millisecond))
	for i, s := range statuses {
		assert.Equal(t, http.StatusSeeOther, s, "upload %d", i)
	}
	assert.Less(t, peak, 400, "peak RSS in MB")
	originals, _ := filepath.Glob(filepath.Join(p.dir, "originals", "posts", "*", "*", "*", "*.jpeg"))
	assert.Len(t, originals, uploads)
	for _, name := range originals {
		info, err := os.Stat(name)
		require.NoError(t, err)
		assert.Equal(t, int64(len(img)), info.Size(), "%s: the photo, without the junk", name)
	}
}

// TestOpenRedirect: after login, next leads only to a path of this site,
// whatever a browser would make of it (it drops tabs and newlines, reads
// a backslash as a slash).
func TestOpenRedirect(t *testing.T) {
	a := startApp(t)
	a.client().signup("ada")
	for _, next := range []string{
		"/\t/evil.example", "/\n/evil.example", "/\r\n/evil.example", "\t//evil.example", "/\\evil.example",
		"/x\\..\\\\evil.example", "//evil.example", "https://evil.example/", "/\x00/evil.example", "/\x7f/evil.example",
		"javascript:alert(1)", "/%2F%2Fevil.example",
	} {
		res := a.client().post("/login", url.Values{"username": {"ada"}, "password": {"correct horse"}, "next": {next}})
		assert.Equal(t, http.StatusSeeOther, res.status, "%q", next)
		assert.Equal(t, "/", res.location, "next %q", next)
		form := a.client().get("/login?next=" + url.QueryEscape(next))
		assert.Contains(t, form.body, `name="next" value="/"`, "the login form keeps no hostile next %q", next)
	}
	for _, next := range []string{"/explore", "/p/1?from=feed", "/u/ada%20x"} {
		res := a.client().post("/login", url.Values{"username": {"ada"}, "password": {"correct horse"}, "next": {next}})
		assert.Equal(t, next, res.location)
	}
}

// TestUploadsStoreOnlyTheImage: a photo followed by junk is stored
// without the junk.
func TestUploadsStoreOnlyTheImage(t *testing.T) {
	a := startApp(t)
	c := a.client()
	c.signup("ada")
	img := photo(t, 400, 500)
	c.newPost("junk after the photo", append(append([]byte{}, img...), bytes.Repeat([]byte{0xFF, 0xD9, 0}, 1<<19)...))
	for _, f := range a.mediaFiles() {
		if strings.HasPrefix(f, "posts/") && strings.Count(f, "/") == 4 { // the original, not a variant
			info, err := os.Stat(filepath.Join(a.dir, "originals", f))
			require.NoError(t, err)
			assert.Equal(t, int64(len(img)), info.Size(), "the original %s is the photo alone", f)
		}
	}
}

// rawRequest opens a connection to the app and sends head (a request's
// line and headers) and then body, one byte every interval, until the
// app answers or closes the connection. It returns the answer's first
// line ("" if the connection was closed without one) and how long the app
// took.
func rawRequest(t *testing.T, base, head string, body []byte, interval time.Duration) (string, time.Duration) {
	t.Helper()
	conn, err := net.Dial("tcp", strings.TrimPrefix(base, "http://"))
	require.NoError(t, err)
	defer conn.Close()
	start := time.Now()
	_, err = io.WriteString(conn, head)
	require.NoError(t, err)
	go func() {
		for _, b := range body {
			if _, err := conn.Write([]byte{b}); err != nil {
				return
			}
			time.Sleep(interval)
		}
	}()
	conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	line, err := bufio.NewReader(conn).ReadString('\n')
	if ne, ok := err.(net.Error); ok && ne.Timeout() {
		return "still open", time.Since(start)
	}
	return strings.TrimSpace(line), time.Since(start)
}

// sessionCookie returns the client's session cookie header.
func (c *client) sessionCookie() string {
	u, _ := url.Parse(c.base)
	for _, k := range c.http.Jar.Cookies(u) {
		if k.Name == sessionName {
			return k.Name + "=" + k.Value
		}
	}
	c.t.Fatal("no session")
	return ""
}

// TestBodiesTooSlow: a body trickled byte by byte is cut at its deadline,
// short for forms, longer for uploads (which must then keep a rate).
func TestBodiesTooSlow(t *testing.T) {
	a := startApp(t, func(c *Config) {
		c.Limits = Limits{BodyTimeout: time.Second, UploadGrace: 2 * time.Second, UploadRate: 64 << 10}
	})
	host := strings.TrimPrefix(a.URL, "http://")
	line, took := rawRequest(t, a.URL, "POST /login HTTP/1.1\r\nHost: "+host+"\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 100000\r\n\r\n",
		bytes.Repeat([]byte("a"), 100000), 300*time.Millisecond)
	assert.Equal(t, "HTTP/1.1 408 Request Timeout", line, "an anonymous login trickled")
	assert.Less(t, took, 3*time.Second)

	c := a.client()
	c.signup("ada")
	body, typ, n := junkUpload(photo(t, 400, 400), 1<<20)
	rest, _ := io.ReadAll(body)
	line, took = rawRequest(t, a.URL, fmt.Sprintf("POST /new HTTP/1.1\r\nHost: %s\r\nCookie: %s\r\nContent-Type: %s\r\nContent-Length: %d\r\n\r\n", host, c.sessionCookie(), typ, n),
		rest, 300*time.Millisecond)
	assert.Equal(t, "HTTP/1.1 408 Request Timeout", line, "an upload trickled")
	assert.Less(t, took, 5*time.Second)
	c.newPost("a photo sent at once still arrives", photo(t, 400, 400))
}

// TestConnectionLimit: connections beyond MaxConns wait until one closes.
func TestConnectionLimit(t *testing.T) {
	a := startApp(t, func(c *Config) { c.Limits = Limits{MaxConns: 2} })
	var idle []net.Conn
	for range 2 {
		conn, err := net.Dial("tcp", strings.TrimPrefix(a.URL, "http://"))
		require.NoError(t, err)
		defer conn.Close()
		idle = append(idle, conn)
	}
	get := func() error {
		c := &http.Client{Timeout: 700 * time.Millisecond, Transport: &http.Transport{DisableKeepAlives: true}}
		res, err := c.Get(a.URL + "/healthz")
		if err == nil {
			res.Body.Close()
		}
		return err
	}
	assert.Error(t, get(), "a third connection is not served while two are open")
	idle[0].Close()
	assert.Eventually(t, func() bool { return get() == nil }, 5*time.Second, 50*time.Millisecond, "served once one closed")
}

// TestUploadLimitsPerAccount: an account may upload UploadsPerHour photos
// an hour, AccountUploads at once; others are not held back.
func TestUploadLimitsPerAccount(t *testing.T) {
	a := startApp(t, func(c *Config) { c.Limits = Limits{UploadsPerHour: 3, AccountUploads: 1, UploadGrace: time.Minute} })
	c := a.client()
	c.signup("ada")
	c.newPost("one", photo(t, 400, 400))
	// A slow upload holds the account's one upload at once (and counts).
	body, typ, n := junkUpload(photo(t, 400, 400), 1<<20)
	rest, _ := io.ReadAll(body)
	conn, err := net.Dial("tcp", strings.TrimPrefix(a.URL, "http://"))
	require.NoError(t, err)
	fmt.Fprintf(conn, "POST /new HTTP/1.1\r\nHost: x\r\nCookie: %s\r\nContent-Type: %s\r\nContent-Length: %d\r\n\r\n%s", c.sessionCookie(), typ, n, rest[:1000])
	time.Sleep(300 * time.Millisecond)
	res := c.upload("/new", map[string]string{"caption": "at once"}, "photo", "b.jpg", photo(t, 400, 400))
	assert.Equal(t, http.StatusTooManyRequests, res.status)
	assert.Contains(t, res.body, "already sharing")
	conn.Close()

	time.Sleep(300 * time.Millisecond)
	c.newPost("two", photo(t, 400, 400))
	res = c.upload("/new", map[string]string{"caption": "three"}, "photo", "c.jpg", photo(t, 400, 400))
	assert.Equal(t, http.StatusTooManyRequests, res.status)
	assert.Contains(t, res.body, "You have shared 3 photos in the last hour")
	res = c.upload("/settings", map[string]string{"name": "Ada"}, "avatar", "me.jpg", photo(t, 300, 300))
	assert.Equal(t, http.StatusTooManyRequests, res.status, "avatars count too")
	res = c.upload("/settings", map[string]string{"name": "Ada L."}, "", "", nil)
	assert.Equal(t, http.StatusSeeOther, res.status, "the profile without a new avatar is saved")

	other := a.client()
	other.signup("grace")
	other.newPost("not held back", photo(t, 400, 400))
}

// TestUploadMaxPixels: a small PNG that declares 8000x8000 (64
// megapixels, above the 50 of the photo field, which admits a phone's 48)
// is refused from its header.
func TestUploadMaxPixels(t *testing.T) {
	a := startApp(t)
	c := a.client()
	c.signup("ada")
	var buf bytes.Buffer
	require.NoError(t, (&png.Encoder{CompressionLevel: png.BestSpeed}).Encode(&buf, image.NewGray(image.Rect(0, 0, 8000, 8000))))
	require.Less(t, buf.Len(), 1<<20)
	res := c.upload("/new", map[string]string{"caption": "huge"}, "photo", "huge.png", buf.Bytes())
	assert.Equal(t, http.StatusUnprocessableEntity, res.status)
	assert.Contains(t, res.body, "is 8000×8000 pixels; the limit is 50 megapixels.")
	assert.Empty(t, a.mediaFiles())
}

// TestProxyMakesCookiesSecure: behind a trusted proxy that says the client
// came over HTTPS, cookies are Secure; nobody else is believed.
func TestProxyMakesCookiesSecure(t *testing.T) {
	a := startApp(t, func(c *Config) { c.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")} })
	secure := func(username string, header ...string) bool {
		res := a.client().post("/signup", url.Values{"username": {username}, "password": {"correct horse"}}, header...)
		require.Equal(t, http.StatusSeeOther, res.status, res.body)
		secure := 0
		cookies := res.header.Values("Set-Cookie") // the session's, the device's
		for _, c := range cookies {
			if strings.Contains(c, "; Secure") {
				secure++
			}
		}
		assert.Contains(t, []int{0, len(cookies)}, secure, "all Secure or none: %q", cookies)
		return secure > 0
	}
	assert.True(t, secure("xfp", "X-Forwarded-Proto", "https"))
	assert.True(t, secure("fwd", "Forwarded", `for="[2001:db8::1]:4711";proto=https`))
	assert.True(t, secure("chain", "Forwarded", "for=192.0.2.1;proto=https, for=127.0.0.1;proto=http"), "the client's own hop says")
	assert.False(t, secure("plain"))
	assert.False(t, secure("http", "X-Forwarded-Proto", "http"))

	cfg, err := parseConfig([]string{"-trusted-proxies", "127.0.0.1/32, ::1, 10.0.0.0/8"}, func(string) string { return "" })
	require.NoError(t, err)
	assert.Equal(t, []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32"), netip.MustParsePrefix("::1/128"), netip.MustParsePrefix("10.0.0.0/8")}, cfg.TrustedProxies)
	_, err = parseConfig([]string{"-trusted-proxies", "localhost"}, func(string) string { return "" })
	assert.ErrorContains(t, err, "proxy address")
}

// TestForwardedHeadersNeedTrust: without trusted proxies, forwarded
// headers are ignored.
func TestForwardedHeadersNeedTrust(t *testing.T) {
	a := startApp(t)
	res := a.client().post("/signup", url.Values{"username": {"spoof"}, "password": {"correct horse"}}, "X-Forwarded-Proto", "https", "Forwarded", "proto=https")
	require.Equal(t, http.StatusSeeOther, res.status, res.body)
	assert.NotContains(t, strings.Join(res.header.Values("Set-Cookie"), "\n"), "Secure")
	c := a.client()
	for i := range 5 {
		c.post("/login", url.Values{"username": {"spoof"}, "password": {"guess"}}, "X-Forwarded-For", fmt.Sprintf("192.0.2.%d", i))
	}
	assert.Equal(t, http.StatusTooManyRequests, c.post("/login", url.Values{"username": {"spoof"}, "password": {"correct horse"}}, "X-Forwarded-For", "198.51.100.1").status,
		"X-Forwarded-For does not change who is asking")
}

// TestLoginThrottleByNetwork: failures count per IPv6 /64 (one
// subscriber), not per address, as the trusted proxy reports it.
func TestLoginThrottleByNetwork(t *testing.T) {
	a := startApp(t, func(c *Config) { c.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")} })
	a.client().signup("grace")
	try := func(from, password string) int {
		return a.client().post("/login", url.Values{"username": {"grace"}, "password": {password}}, "X-Forwarded-For", from).status
	}
	for i := range 5 {
		assert.Equal(t, http.StatusUnauthorized, try(fmt.Sprintf("2001:db8:1:2::%x", i+1), "guess"))
	}
	assert.Equal(t, http.StatusTooManyRequests, try("2001:db8:1:2:ffff::1", "correct horse"), "another address of the /64 waits")
	assert.Equal(t, http.StatusSeeOther, try("2001:db8:1:3::1", "correct horse"), "another network does not")
	assert.Equal(t, http.StatusSeeOther, try("198.51.100.7", "correct horse"))
}

// TestLoginOwnerNotLockedOut: an attacker trying an account from many
// networks locks it for unknown browsers, never for its owner's.
func TestLoginOwnerNotLockedOut(t *testing.T) {
	a := startApp(t, func(c *Config) { c.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")} })
	owner := a.client()
	owner.signup("grace")
	require.Equal(t, http.StatusSeeOther, owner.post("/logout", nil).status)
	for i := range 25 {
		res := a.client().post("/login", url.Values{"username": {"grace"}, "password": {"guess"}}, "X-Forwarded-For", fmt.Sprintf("203.0.113.%d", i))
		assert.Contains(t, []int{http.StatusUnauthorized, http.StatusTooManyRequests}, res.status)
	}
	res := a.client().post("/login", url.Values{"username": {"grace"}, "password": {"correct horse"}}, "X-Forwarded-For", "192.0.2.99")
	assert.Equal(t, http.StatusTooManyRequests, res.status, "an unknown browser waits")
	res = owner.post("/login", url.Values{"username": {"grace"}, "password": {"correct horse"}}, "X-Forwarded-For", "192.0.2.99")
	assert.Equal(t, http.StatusSeeOther, res.status, "the owner's browser logs in")

	// The owner's browser, behind the same proxy as the attacker, counts
	// its own failures only.
	behind := a.client()
	behind.signup("alan")
	for range 30 {
		a.client().post("/login", url.Values{"username": {fmt.Sprintf("x%d", rand.Int())}, "password": {"guess"}})
	}
	assert.Equal(t, http.StatusTooManyRequests, a.client().post("/login", url.Values{"username": {"alan"}, "password": {"correct horse"}}).status,
		"one network trying many accounts waits")
	assert.Equal(t, http.StatusSeeOther, behind.post("/login", url.Values{"username": {"alan"}, "password": {"correct horse"}}).status)
}

// TestBcryptBound: failed logins with random names hash one password at
// a time (Limits.Bcrypt), however many arrive together.
func TestBcryptBound(t *testing.T) {
	a := startApp(t, func(c *Config) { c.BcryptCost = bcrypt.DefaultCost; c.Limits = Limits{Bcrypt: 1} })
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			res := a.client().post("/login", url.Values{"username": {fmt.Sprintf("random%d", i)}, "password": {"guess"}})
			assert.Equal(t, http.StatusUnauthorized, res.status)
		})
	}
	wg.Wait()
	a.server.bcrypt.mu.Lock()
	defer a.server.bcrypt.mu.Unlock()
	assert.Equal(t, 1, a.server.bcrypt.peak, "hashes at once")
}

func TestWeakPasswordsRefused(t *testing.T) {
	a := startApp(t)
	for _, tc := range []struct{ username, name, password string }{
		{"gracehopper", "", "gracehopper"}, {"grace1906", "", "grace1906"}, {"grace", "", "GRACE2024!"}, {"hopper.g", "", "g.reppoh"},
		{"grace", "Grace Hopper", "gracehopper"}, {"grace", "Grace Hopper", "Grace Hopper"},
		{"grace", "", "password"}, {"grace", "", "Password1!"}, {"grace", "", "12345678"}, {"grace", "", "87654321"},
		{"grace", "", "qwertyuiop"}, {"grace", "", "aaaaaaaa"}, {"grace", "", "abababab"}, {"grace", "", "iloveyou"},
		{"grace", "", "pictures"}, {"grace", "", "instagram1"}, {"grace", "", "abcdefgh"},
	} {
		res := a.client().post("/signup", url.Values{"username": {tc.username}, "name": {tc.name}, "password": {tc.password}})
		assert.Equal(t, http.StatusUnprocessableEntity, res.status, "%+v", tc)
		assert.Regexp(t, "not your username or your name|first ones attackers try", res.body, "%+v", tc)
	}
	res := a.client().post("/signup", url.Values{"username": {"grace"}, "password": {"correct horse"}})
	assert.Equal(t, http.StatusSeeOther, res.status, res.body)
}

// TestDemoPasswordIsRandom: the demo's users have a random password,
// printed once; the published "pictures" is not it.
func TestDemoPasswordIsRandom(t *testing.T) {
	if testing.Short() {
		t.Skip("seeds the demo")
	}
	p := startAppProcess(t, "-demo=true")
	var password string
	printed := regexp.MustCompile(`log in as "ada" with password "([^"]+)"`)
	require.Eventually(t, func() bool {
		m := printed.FindStringSubmatch(p.out.String())
		if m != nil {
			password = m[1]
		}
		return m != nil
	}, 3*time.Minute, 100*time.Millisecond)
	assert.Regexp(t, `^[a-z2-7]{4}-[a-z2-7]{4}-[a-z2-7]{4}$`, password)
	a := &testApp{Main: &Main{URL: p.URL}, t: t}
	assert.Equal(t, http.StatusUnauthorized, a.client().post("/login", url.Values{"username": {"ada"}, "password": {"pictures"}}).status)
	assert.Equal(t, http.StatusSeeOther, a.client().post("/login", url.Values{"username": {"ada"}, "password": {password}}).status)
	assert.Equal(t, 1, strings.Count(p.out.String(), password), "printed once")

	cfg, err := parseConfig([]string{"-demo-password", "for scripts"}, func(string) string { return "" })
	require.NoError(t, err)
	assert.Equal(t, "for scripts", cfg.DemoPassword)
}

// TestAPIErrorsAreJSON: the API's errors are JSON, with its content type.
func TestAPIErrorsAreJSON(t *testing.T) {
	a := startApp(t)
	for _, path := range []string{"/api/posts/999", "/api/posts/nope"} {
		res := a.client().get(path)
		assert.Equal(t, http.StatusNotFound, res.status)
		assert.Equal(t, "application/json", res.header.Get("Content-Type"), path)
		assert.JSONEq(t, `{"error":"not found"}`, res.body, path)
	}
}

// TestScaledOutLogout: with PostgreSQL, several web processes serve the
// same sessions; logging out in one ends the session in all, at once.
func TestScaledOutLogout(t *testing.T) {
	pg := pgtest.Start(t)
	a := startApp(t, func(c *Config) { c.DatabaseURL = pg.Database(t); c.Demo = false; c.Work = true })
	// A second web process: its own server and connections, the same
	// database (the fields are this process's registered ones).
	db, err := openPostgres(context.Background(), a.cfg.DatabaseURL)
	require.NoError(t, err)
	t.Cleanup(func() { db.Close() })
	s, err := newServer(ServerConfig{DB: db, Post: a.post, Avatar: a.avatar, BcryptCost: bcrypt.MinCost})
	require.NoError(t, err)
	other := httptest.NewServer(s)
	t.Cleanup(other.Close)

	c := a.client()
	c.signup("ada")
	stolen := c.sessionCookie()
	elsewhere := &client{t: t, base: other.URL, http: &http.Client{Jar: c.http.Jar, CheckRedirect: c.http.CheckRedirect}}
	require.Equal(t, http.StatusOK, elsewhere.get("/").status, "logged in there too")
	require.Equal(t, http.StatusSeeOther, c.post("/logout", nil).status)
	// The browser would forget the cookie; an attacker who stole it would
	// not.
	req, _ := http.NewRequest("GET", other.URL+"/", nil)
	req.Header.Set("Cookie", stolen)
	res, err := http.DefaultTransport.RoundTrip(req)
	require.NoError(t, err)
	res.Body.Close()
	assert.Equal(t, http.StatusSeeOther, res.StatusCode, "the session ended in the other process too")
}

// BenchmarkSlowBodies is the slow-body attack of the security review, on a
// fresh app process with the default limits: 50 anonymous logins and 100
// uploads from 50 accounts, each body trickled one byte every 3 s, while
// a visitor loads /explore every 200 ms and a user shares a photo. It
// reports when the server cut the slow bodies, how /explore answered
// meanwhile, the real upload's answer and time (while slow uploads hold
// every upload slot, Limits.Uploads, it waits, then is refused with 503)
// and the process's peak memory:
//
//	go test -run '^$' -bench SlowBodies -benchtime 1x ./examples/instagram
func BenchmarkSlowBodies(b *testing.B) {
	for range b.N {
		p := startAppProcess(b)
		host := strings.TrimPrefix(p.URL, "http://")
		newClient := func(name string) *client {
			c := (&testApp{Main: &Main{URL: p.URL}, t: b}).client()
			c.signup(name)
			return c
		}
		accounts := make([]*client, 50)
		for i := range accounts {
			accounts[i] = newClient(fmt.Sprintf("slow%d", i))
		}
		user := newClient("patient")
		img := photo(b, 800, 1000)

		type result struct {
			kind   string
			status string
			took   time.Duration
		}
		results := make(chan result, 200)
		trickle := func(kind, head string, body []byte) {
			conn, err := net.Dial("tcp", host)
			if err != nil {
				results <- result{kind, "dial: " + err.Error(), 0}
				return
			}
			defer conn.Close()
			start := time.Now()
			io.WriteString(conn, head)
			go func() {
				for _, c := range body {
					if _, err := conn.Write([]byte{c}); err != nil {
						return
					}
					time.Sleep(3 * time.Second)
				}
			}()
			conn.SetReadDeadline(time.Now().Add(3 * time.Minute))
			line, err := bufio.NewReader(conn).ReadString('\n')
			if err != nil {
				line = "no answer: " + err.Error()
			}
			results <- result{kind, strings.TrimSpace(line), time.Since(start)}
		}
		b.ResetTimer()
		var wg sync.WaitGroup
		for range 50 {
			wg.Go(func() {
				trickle("login", "POST /login HTTP/1.1\r\nHost: "+host+"\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 100000\r\n\r\n",
					bytes.Repeat([]byte("a"), 100000))
			})
		}
		for i := range 100 {
			c := accounts[i/2]
			wg.Go(func() {
				body, typ, n := junkUpload(img, 1<<20)
				all, _ := io.ReadAll(body)
				trickle("upload", fmt.Sprintf("POST /new HTTP/1.1\r\nHost: %s\r\nCookie: %s\r\nContent-Type: %s\r\nContent-Length: %d\r\n\r\n", host, c.sessionCookie(), typ, n), all)
			})
		}
		// The visitor and the user, while the attack lasts.
		stop := make(chan struct{})
		var explore []time.Duration
		var visitor sync.WaitGroup
		visitor.Go(func() {
			for {
				select {
				case <-stop:
					return
				case <-time.After(200 * time.Millisecond):
				}
				start := time.Now()
				res, err := http.Get(p.URL + "/explore")
				if err == nil {
					io.Copy(io.Discard, res.Body)
					res.Body.Close()
					explore = append(explore, time.Since(start))
				}
			}
		})
		time.Sleep(5 * time.Second)
		upStart := time.Now()
		upStatus := user.upload("/new", map[string]string{"caption": "shared during the attack"}, "photo", "photo.jpg", img).status
		upload := time.Since(upStart)
		wg.Wait()
		close(stop)
		visitor.Wait()
		b.StopTimer()
		close(results)

		byKind := map[string][]time.Duration{}
		statuses := map[string]int{}
		for r := range results {
			byKind[r.kind] = append(byKind[r.kind], r.took)
			statuses[r.kind+" "+r.status]++
		}
		pct := func(d []time.Duration, q float64) time.Duration {
			if len(d) == 0 {
				return 0
			}
			slices.Sort(d)
			return d[min(len(d)-1, int(q*float64(len(d))))]
		}
		for kind, d := range byKind {
			b.ReportMetric(pct(d, 0.5).Seconds(), kind+"-cut-p50-s")
			b.ReportMetric(pct(d, 1).Seconds(), kind+"-cut-max-s")
		}
		b.ReportMetric(float64(pct(explore, 0.5).Microseconds())/1000, "explore-p50-ms")
		b.ReportMetric(float64(pct(explore, 0.99).Microseconds())/1000, "explore-p99-ms")
		b.ReportMetric(upload.Seconds(), "upload-s")
		b.ReportMetric(float64(upStatus), "upload-status")
		b.ReportMetric(float64(p.peakRSS(b)), "peak-rss-MB")
		b.Logf("answers: %v; /explore loaded %d times; the real upload answered %d after %v", statuses, len(explore), upStatus, upload.Round(time.Millisecond))
		for k, n := range statuses {
			// 408: cut at its deadline; 429 and 503: refused (the
			// account's or the server's uploads at once), without reading.
			if !strings.HasSuffix(k, "408 Request Timeout") && !strings.HasSuffix(k, "429 Too Many Requests") && !strings.HasSuffix(k, "503 Service Unavailable") {
				b.Errorf("%d slow bodies answered %q", n, k)
			}
		}
	}
}

// TestRefusedUploadAnsweredAtOnce: an upload refused before its body is
// read (here: the account is already sharing a photo) is answered within
// drainWait, and its connection closed, however slowly its body arrives.
// (It used to wait for net/http to read what was left of the body, with
// no deadline: a connection held for as long as its sender liked.)
func TestRefusedUploadAnsweredAtOnce(t *testing.T) {
	a := startApp(t, func(c *Config) { c.Limits = Limits{AccountUploads: 1, UploadGrace: time.Minute} })
	host := strings.TrimPrefix(a.URL, "http://")
	c := a.client()
	c.signup("ada")
	body, typ, n := junkUpload(photo(t, 400, 400), 200<<10)
	rest, _ := io.ReadAll(body)
	head := fmt.Sprintf("POST /new HTTP/1.1\r\nHost: %s\r\nCookie: %s\r\nContent-Type: %s\r\nContent-Length: %d\r\n\r\n", host, c.sessionCookie(), typ, n)
	first := make(chan string, 1)
	go func() {
		line, _ := rawRequest(t, a.URL, head, rest, 500*time.Millisecond)
		first <- line
	}()
	time.Sleep(time.Second) // the first upload holds the account's one turn
	line, took := rawRequest(t, a.URL, head, rest, 500*time.Millisecond)
	assert.Equal(t, "HTTP/1.1 429 Too Many Requests", line, "a second upload of the account, trickled")
	assert.Less(t, took, drainWait+time.Second)
	t.Logf("the refusal came after %v", took.Round(time.Millisecond))
	<-first
}
