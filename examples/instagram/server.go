package main

import (
	"bytes"
	"crypto/rand"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"sync"
	"unicode"

	"golang.org/x/crypto/bcrypt"

	"github.com/gopictures/pictures"
)

// The handlers are methods on Server, one file per concern: session.go
// (who is asking), auth.go (accounts, logging in and out), feed.go (feeds,
// profiles, follows), post.go (a post, its likes and comments) and
// upload.go (new posts and profile settings, the forms that upload
// pictures).

//go:embed templates static
var assets embed.FS

// Limits of user input, as on the real site.
const (
	maxCaption = 2200
	maxComment = 2200
	maxBio     = 150
	maxName    = 60
)

// ServerConfig holds what a Server serves from. DB, Post and Avatar are
// required; the zero value of every other field means its default.
type ServerConfig struct {
	// DB holds the app's data.
	DB *DB
	// Post and Avatar are the registered picture fields of posts' photos
	// and users' avatars.
	Post, Avatar *pictures.PictureField
	// Media serves /media/, the pictures' files. Defaults to nothing, for
	// pictures served from elsewhere (such as S3).
	Media http.Handler
	// MediaOrigin is the origin images come from besides this one, such as
	// "https://bucket.s3.amazonaws.com", for the Content-Security-Policy.
	// Defaults to none.
	MediaOrigin string
	// Logger logs failed requests. Defaults to slog.Default().
	Logger *slog.Logger
	// BcryptCost is the cost of new password hashes. Defaults to
	// bcrypt.DefaultCost; tests lower it.
	BcryptCost int
	// CachePages keeps rendered pages for a few seconds (see pageCache).
	// Defaults to off.
	CachePages bool
	// Limits bound what clients may cost (see Limits).
	Limits Limits
	// TrustedProxies are the reverse proxies whose Forwarded and
	// X-Forwarded-* headers say who the client is and whether it came over
	// HTTPS (see proxy.go). Defaults to none: the headers are ignored.
	TrustedProxies []netip.Prefix
	// Seeding reports whether demo content is being added, so that empty
	// pages say it is on its way rather than "Nothing here yet". Defaults
	// to never.
	Seeding func() bool
}

// Server serves the app's pages, with the services it holds.
type Server struct {
	db         *DB
	post       *pictures.PictureField
	avatar     *pictures.PictureField
	log        *slog.Logger
	bcryptCost int
	pages      map[string]*template.Template
	handler    http.Handler
	sessions   sessionCache
	logins     *loginThrottle
	dummyHash  []byte // compared against for unknown usernames
	bcrypt     *bcryptGate
	uploads    *uploadGate
	limits     Limits
	proxies    []netip.Prefix
	cache      *pageCache // nil: no page cache
	seeding    func() bool
}

// newServer returns the app's handler, or an error naming the field of cfg
// that is missing.
func newServer(cfg ServerConfig) (*Server, error) {
	switch {
	case cfg.DB == nil:
		return nil, errors.New("ServerConfig.DB is nil")
	case cfg.Post == nil:
		return nil, errors.New("ServerConfig.Post is nil")
	case cfg.Avatar == nil:
		return nil, errors.New("ServerConfig.Avatar is nil")
	case cfg.BcryptCost != 0 && (cfg.BcryptCost < bcrypt.MinCost || cfg.BcryptCost > bcrypt.MaxCost):
		return nil, fmt.Errorf("ServerConfig.BcryptCost must be between %d and %d, got %d", bcrypt.MinCost, bcrypt.MaxCost, cfg.BcryptCost)
	}
	s := &Server{
		db:         cfg.DB,
		post:       cfg.Post,
		avatar:     cfg.Avatar,
		log:        cfg.Logger,
		bcryptCost: cfg.BcryptCost,
		pages:      parsePages(),
		logins:     newLoginThrottle(),
		limits:     cfg.Limits.withDefaults(),
		proxies:    cfg.TrustedProxies,
		seeding:    cfg.Seeding,
	}
	if s.seeding == nil {
		s.seeding = func() bool { return false }
	}
	s.bcrypt = newBcryptGate(s.limits.Bcrypt)
	s.uploads = newUploadGate(s.limits)
	if s.log == nil {
		s.log = slog.Default()
	}
	if s.bcryptCost == 0 {
		s.bcryptCost = bcrypt.DefaultCost
	}
	var err error
	if s.dummyHash, err = bcrypt.GenerateFromPassword([]byte(rand.Text()), s.bcryptCost); err != nil {
		return nil, err
	}
	if cfg.CachePages {
		s.cache = &pageCache{}
	}

	mux := http.NewServeMux()
	// feed.go
	mux.HandleFunc("GET /{$}", s.cached(s.feed))
	mux.HandleFunc("GET /explore", s.cached(s.explore))
	mux.HandleFunc("GET /u/{username}", s.cached(s.profile))
	mux.HandleFunc("POST /u/{username}/follow", s.follow)
	// post.go
	mux.HandleFunc("GET /p/{id}", s.cached(s.postPage))
	mux.HandleFunc("GET /api/posts/{id}", s.postJSON)
	mux.HandleFunc("POST /p/{id}/like", s.like)
	mux.HandleFunc("POST /p/{id}/comments", s.comment)
	mux.HandleFunc("POST /p/{id}/delete", s.deletePost)
	mux.HandleFunc("POST /comments/{id}/delete", s.deleteComment)
	// upload.go
	mux.HandleFunc("GET /new", s.newPostForm)
	mux.HandleFunc("POST /new", s.newPost)
	mux.HandleFunc("GET /settings", s.settingsForm)
	mux.HandleFunc("POST /settings", s.settings)
	// auth.go
	mux.HandleFunc("GET /signup", s.signupForm)
	mux.HandleFunc("POST /signup", s.signup)
	mux.HandleFunc("GET /login", s.loginForm)
	mux.HandleFunc("POST /login", s.login)
	mux.HandleFunc("POST /logout", s.logout)

	if cfg.Media != nil {
		mux.Handle("GET /media/", cfg.Media)
	}
	static, _ := fs.Sub(assets, "static")
	mux.Handle("GET /static/", http.StripPrefix("/static/", cacheForever(http.FileServerFS(static))))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("ok\n")) })

	// Every state-changing request must come from our own pages: Go's
	// cross-origin protection refuses the others (CSRF).
	csrf := http.NewCrossOriginProtection()
	// Bodies are bounded first: nothing reads one without a deadline.
	s.handler = securityHeaders(s.limitBodies(csrf.Handler(s.withViewer(mux))), cfg.MediaOrigin)
	return s, nil
}

func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.handler.ServeHTTP(w, r) }

// securityHeaders forbids framing, inline scripts and sniffing, and
// images from anywhere but here, data: previews and mediaOrigin.
func securityHeaders(next http.Handler, mediaOrigin string) http.Handler {
	csp := "default-src 'self'; img-src 'self' data:" + strings.TrimRight(" "+mediaOrigin, " ") +
		"; style-src 'self'; script-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'"
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", csp)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "same-origin")
		next.ServeHTTP(w, r)
	})
}

func cacheForever(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "public, max-age=86400")
		next.ServeHTTP(w, r)
	})
}

// page is the data of every template.
type page struct {
	Viewer   *User
	Title    string
	Error    string
	Path     string
	Posts    []Post
	Post     Post
	Comments []Comment
	Profile  User
	Next     int64 // cursor of the next page, 0 if none
	Form     url.Values
	Seeding  bool // the demo is being seeded (ServerConfig.Seeding)
}

// render answers with the named page.
func (s *Server) render(w http.ResponseWriter, r *http.Request, status int, name string, p page) {
	p.Viewer = viewer(r)
	p.Path = r.URL.Path
	t, ok := s.pages[name]
	if !ok {
		s.fail(w, r, fmt.Errorf("no page %q", name))
		return
	}
	buf := bufPool.Get().(*bytes.Buffer)
	defer bufPool.Put(buf)
	buf.Reset()
	if err := t.ExecuteTemplate(buf, name, p); err != nil {
		s.fail(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	if p.Viewer != nil {
		w.Header().Set("Cache-Control", "private, no-cache")
	}
	w.WriteHeader(status)
	w.Write(buf.Bytes())
}

var bufPool = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// fail answers with the page of err: not found, forbidden, or (logged) an
// internal error.
func (s *Server) fail(w http.ResponseWriter, r *http.Request, err error) {
	switch {
	case errors.Is(err, ErrNotFound):
		s.render(w, r, http.StatusNotFound, "error", page{Title: "Page not found", Error: "Sorry, this page isn't available."})
	case errors.Is(err, ErrForbidden):
		s.render(w, r, http.StatusForbidden, "error", page{Title: "Not allowed", Error: "You can't do that."})
	case strings.HasPrefix(r.URL.Path, "/api/"):
		s.log.Error("instagram: request failed", "method", r.Method, "path", r.URL.Path, "err", err)
		jsonError(w, http.StatusInternalServerError, "internal error")
	default:
		s.log.Error("instagram: request failed", "method", r.Method, "path", r.URL.Path, "err", err)
		http.Error(w, "Something went wrong. Please try again.", http.StatusInternalServerError)
	}
}

// jsonError answers an API request with {"error": msg}.
func jsonError(w http.ResponseWriter, status int, msg string) {
	h := w.Header()
	h.Del("Content-Length")
	h.Set("Content-Type", "application/json")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(map[string]string{"error": msg})
}

// localPath returns p if it is a path on this site, else "/": redirects
// never lead elsewhere. Browsers drop tabs and newlines from a URL and
// read a backslash as a slash, so that "/\t/evil.example" or
// "/\\evil.example" would lead to another host: a path with a control
// character or a backslash anywhere is refused, and what is left is
// parsed and written out again, so that only a path and a query remain.
func localPath(p string) string {
	if !strings.HasPrefix(p, "/") || strings.HasPrefix(p, "//") ||
		strings.ContainsFunc(p, func(r rune) bool { return r < 0x20 || r == 0x7F || r == '\\' || unicode.IsControl(r) }) {
		return "/"
	}
	u, err := url.Parse(p)
	if err != nil || u.Scheme != "" || u.Host != "" || u.Opaque != "" || u.User != nil || !strings.HasPrefix(u.Path, "/") || strings.HasPrefix(u.Path, "//") {
		return "/"
	}
	out := u.EscapedPath()
	if u.RawQuery != "" {
		out += "?" + u.RawQuery
	}
	if strings.HasPrefix(out, "//") || strings.HasPrefix(out, "/\\") {
		return "/"
	}
	return out
}

// back redirects to the page the form was on, or fallback, at fragment
// (an element id) if it is not empty.
func back(w http.ResponseWriter, r *http.Request, fallback, fragment string) {
	target := fallback
	if ref, err := url.Parse(r.Referer()); err == nil && ref.Host == r.Host && ref.Path != "" {
		target = localPath(ref.RequestURI())
	}
	if fragment != "" {
		// A form posted without JavaScript comes back to what it acted
		// on, not to the top of a long page.
		target += "#" + fragment
	}
	http.Redirect(w, r, target, http.StatusSeeOther)
}
