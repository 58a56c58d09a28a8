package main

import (
	"errors"
	"fmt"
	"math"
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
	if msg := weakPassword(username, name, password); msg != "" {
		refuse(msg)
		return
	}
	var hash []byte
	var err error
	if berr := s.bcrypt.do(r.Context(), func() {
		hash, err = bcrypt.GenerateFromPassword([]byte(password), s.bcryptCost)
	}); berr != nil {
		form.Error = busyMessage
		s.render(w, r, http.StatusServiceUnavailable, "signup", form)
		return
	}
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
	s.startSession(w, r, id, username, hash, "/settings")
}

// busyMessage answers a login or signup that waited too long for its
// password hash.
const busyMessage = "Too many people are logging in right now. Please try again in a minute."

func (s *Server) loginForm(w http.ResponseWriter, r *http.Request) {
	s.render(w, r, http.StatusOK, "login", page{Title: "Log in", Form: url.Values{"next": {localPath(r.URL.Query().Get("next"))}}})
}

func (s *Server) login(w http.ResponseWriter, r *http.Request) {
	username := strings.ToLower(strings.TrimSpace(r.PostFormValue("username")))
	next := localPath(r.PostFormValue("next"))
	form := page{Title: "Log in", Form: url.Values{"username": {username}, "next": {next}}}
	id, hash, err := s.db.Credentials(r.Context(), username)
	if err != nil && !errors.Is(err, ErrNotFound) {
		s.fail(w, r, err)
		return
	}
	if err != nil {
		// Compared against when the username does not exist, so that a
		// login takes as long whether or not it does.
		id, hash = 0, s.dummyHash
	}
	addr, _ := s.client(r)
	keys := s.logins.keys(network(addr), username, s.device(r, username, hash))
	if wait := s.logins.blocked(keys); wait > 0 {
		form.Error = fmt.Sprintf("Too many failed attempts. Try again in %d minutes.", int(math.Ceil(wait.Minutes())))
		s.render(w, r, http.StatusTooManyRequests, "login", form)
		return
	}
	var wrong bool
	if err := s.bcrypt.do(r.Context(), func() {
		wrong = bcrypt.CompareHashAndPassword(hash, []byte(r.PostFormValue("password"))) != nil
	}); err != nil {
		form.Error = busyMessage
		s.render(w, r, http.StatusServiceUnavailable, "login", form)
		return
	}
	if wrong || id == 0 {
		s.logins.fail(keys)
		form.Error = "Sorry, your username or password is wrong."
		s.render(w, r, http.StatusUnauthorized, "login", form)
		return
	}
	s.logins.succeed(keys)
	s.startSession(w, r, id, username, hash, next)
}

// startSession logs the browser in as the user (of that username and
// password hash), remembers it as the user's device, and redirects to next.
func (s *Server) startSession(w http.ResponseWriter, r *http.Request, userID int64, username string, hash []byte, next string) {
	token, err := s.db.CreateSession(r.Context(), userID, sessionTTL)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	_, https := s.client(r)
	http.SetCookie(w, &http.Cookie{
		Name: sessionName, Value: token, Path: "/",
		MaxAge: int(sessionTTL.Seconds()), HttpOnly: true, SameSite: http.SameSiteLaxMode, Secure: https,
	})
	s.rememberDevice(w, r, username, hash)
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
	_, https := s.client(r)
	http.SetCookie(w, &http.Cookie{Name: sessionName, Value: "", Path: "/", MaxAge: -1, HttpOnly: true, SameSite: http.SameSiteLaxMode, Secure: https})
	http.Redirect(w, r, "/login", http.StatusSeeOther)
}

// loginThrottle limits failed logins, so that guessing a password takes
// years, without letting an attacker lock its owner out. Failures count
// per username from one network (an IPv4 address or an IPv6 /64, see
// network: an attacker's many addresses are one), per network whatever
// the username (one network trying many accounts), and per username from
// anywhere (many networks trying one account). The owner's browser, known
// by the device cookie of an earlier login (device.go), counts only its
// own failures: the other limits, which an attacker can reach, do not
// apply to it.
type loginThrottle struct {
	pair    *throttle // network (or device) and username
	network *throttle // network
	account *throttle // username, from unknown devices
}

func newLoginThrottle() *loginThrottle {
	const window = 15 * time.Minute
	return &loginThrottle{pair: newThrottle(5, window), network: newThrottle(30, window), account: newThrottle(20, window)}
}

// loginKeys are the throttle keys of one attempt.
type loginKeys struct{ pair, network, account string }

// keys returns the keys of an attempt at username from network, with the
// device ID of a valid device cookie for that username, or "".
func (t *loginThrottle) keys(network, username, device string) loginKeys {
	if device != "" {
		return loginKeys{pair: "device " + device + " " + username}
	}
	return loginKeys{pair: network + " " + username, network: network, account: username}
}

// blocked returns how long the attempt must wait, or 0.
func (t *loginThrottle) blocked(k loginKeys) time.Duration {
	wait := t.pair.blocked(k.pair)
	if k.network != "" {
		wait = max(wait, t.network.blocked(k.network), t.account.blocked(k.account))
	}
	return wait
}

func (t *loginThrottle) fail(k loginKeys) {
	t.pair.fail(k.pair)
	if k.network != "" {
		t.network.fail(k.network)
		t.account.fail(k.account)
	}
}

// succeed forgets the failures of the network (or device) and username;
// those of the account from elsewhere stand.
func (t *loginThrottle) succeed(k loginKeys) { t.pair.reset(k.pair) }

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
	if len(t.fails) >= 100000 { // never grow without bound
		now := time.Now()
		for k := range t.fails {
			t.recent(k, now)
		}
		if len(t.fails) >= 100000 {
			t.fails = make(map[string][]time.Time)
		}
	}
	t.fails[key] = append(t.recent(key, time.Now()), time.Now())
}

func (t *throttle) reset(key string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	delete(t.fails, key)
}
