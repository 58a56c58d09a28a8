package main

import (
	"errors"
	"fmt"
	"math"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"golang.org/x/crypto/bcrypt"
)

// validUsername applies the site's rules: 1 to 30 letters, digits, dots
// and underscores, not starting or ending with a dot, no two dots in a row.
func validUsername(u string) bool {
	if len(u) < 1 || len(u) > 30 || strings.HasPrefix(u, ".") || strings.HasSuffix(u, ".") || strings.Contains(u, "..") {
		return false
	}
	for _, c := range u {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '.' || c == '_') {
			return false
		}
	}
	return true
}

func (s *Server) signupForm(w http.ResponseWriter, r *http.Request) {
	s.render(w, r, http.StatusOK, "signup", page{Title: "Sign up"})
}

func (s *Server) signup(w http.ResponseWriter, r *http.Request) {
	username := strings.ToLower(strings.TrimSpace(r.PostFormValue("username")))
	name := strings.TrimSpace(r.PostFormValue("name"))
	password := r.PostFormValue("password")
	form := page{Title: "Sign up", Form: url.Values{"username": {username}, "name": {name}}}
	refuse := func(msg string) {
		form.Error = msg
		s.render(w, r, http.StatusUnprocessableEntity, "signup", form)
	}
	switch {
	case !validUsername(username):
		refuse("Usernames are 1 to 30 letters, digits, dots and underscores.")
		return
	case utf8.RuneCountInString(name) > maxName:
		refuse(fmt.Sprintf("The name is longer than %d characters.", maxName))
		return
	case utf8.RuneCountInString(password) < 8:
		refuse("Passwords have at least 8 characters.")
		return
	case len(password) > 72:
		refuse("Passwords have at most 72 bytes.")
		return
	}
	hash, err := bcrypt.GenerateFromPassword([]byte(password), s.bcryptCost)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	id, err := s.db.CreateUser(r.Context(), username, name, hash)
	if errors.Is(err, ErrUsernameTaken) {
		refuse("That username is taken. Try another.")
		return
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.startSession(w, r, id, "/settings")
}

func (s *Server) loginForm(w http.ResponseWriter, r *http.Request) {
	s.render(w, r, http.StatusOK, "login", page{Title: "Log in", Form: url.Values{"next": {localPath(r.URL.Query().Get("next"))}}})
}

// dummyHash is compared against when the username does not exist, so
// that a login takes as long whether or not it does.
var dummyHash, _ = bcrypt.GenerateFromPassword([]byte("not a password"), bcrypt.DefaultCost)

func (s *Server) login(w http.ResponseWriter, r *http.Request) {
	username := strings.ToLower(strings.TrimSpace(r.PostFormValue("username")))
	next := localPath(r.PostFormValue("next"))
	form := page{Title: "Log in", Form: url.Values{"username": {username}, "next": {next}}}
	key := clientIP(r) + "|" + username
	if wait := s.throttle.blocked(key); wait > 0 {
		form.Error = fmt.Sprintf("Too many failed attempts. Try again in %d minutes.", int(math.Ceil(wait.Minutes())))
		s.render(w, r, http.StatusTooManyRequests, "login", form)
		return
	}
	id, hash, err := s.db.Credentials(r.Context(), username)
	if err != nil && !errors.Is(err, ErrNotFound) {
		s.fail(w, r, err)
		return
	}
	if err != nil {
		hash = dummyHash
	}
	if bcrypt.CompareHashAndPassword(hash, []byte(r.PostFormValue("password"))) != nil || id == 0 {
		s.throttle.fail(key)
		form.Error = "Sorry, your username or password is wrong."
		s.render(w, r, http.StatusUnauthorized, "login", form)
		return
	}
	s.throttle.reset(key)
	s.startSession(w, r, id, next)
}

func (s *Server) startSession(w http.ResponseWriter, r *http.Request, userID int64, next string) {
	token, err := s.db.CreateSession(r.Context(), userID, sessionTTL)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	http.SetCookie(w, &http.Cookie{
		Name: sessionName, Value: token, Path: "/",
		MaxAge: int(sessionTTL.Seconds()), HttpOnly: true, SameSite: http.SameSiteLaxMode, Secure: r.TLS != nil,
	})
	http.Redirect(w, r, next, http.StatusSeeOther)
}

func (s *Server) logout(w http.ResponseWriter, r *http.Request) {
	if c, err := r.Cookie(sessionName); err == nil {
		if err := s.db.DeleteSession(r.Context(), c.Value); err != nil {
			s.fail(w, r, err)
			return
		}
		s.sessions.forget(c.Value, 0)
	}
	http.SetCookie(w, &http.Cookie{Name: sessionName, Value: "", Path: "/", MaxAge: -1, HttpOnly: true, SameSite: http.SameSiteLaxMode})
	http.Redirect(w, r, "/login", http.StatusSeeOther)
}

func clientIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// throttle counts failed logins per key and blocks a key for a while after
// too many.
type throttle struct {
	max    int
	window time.Duration
	mu     sync.Mutex
	fails  map[string][]time.Time
}

func newThrottle(max int, window time.Duration) *throttle {
	return &throttle{max: max, window: window, fails: make(map[string][]time.Time)}
}

// recent returns the key's failures within the window; t.mu is held.
func (t *throttle) recent(key string, now time.Time) []time.Time {
	fs := t.fails[key]
	i := 0
	for i < len(fs) && now.Sub(fs[i]) > t.window {
		i++
	}
	fs = fs[i:]
	if len(fs) == 0 {
		delete(t.fails, key)
	} else {
		t.fails[key] = fs
	}
	return fs
}

// blocked returns how long the key must wait, or 0.
func (t *throttle) blocked(key string) time.Duration {
	t.mu.Lock()
	defer t.mu.Unlock()
	now := time.Now()
	fs := t.recent(key, now)
	if len(fs) < t.max {
		return 0
	}
	return t.window - now.Sub(fs[len(fs)-t.max])
}

func (t *throttle) fail(key string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if len(t.fails) > 100000 {
		t.fails = make(map[string][]time.Time) // never grow without bound
	}
	t.fails[key] = append(t.recent(key, time.Now()), time.Now())
}

func (t *throttle) reset(key string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	delete(t.fails, key)
}
