package main

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"
)

// Sessions. The viewer of a request comes from its session cookie
// (set by startSession, in auth.go). With SQLite, the one web process keeps
// a small cache that spares the database a lookup per request. An entry
// holds only until the database's next write (DB.Generation), as the page
// cache's do: the viewer's avatar is in it, and processing that avatar is a
// write, so a cached viewer never shows an avatar staler than the database.
// Logging out forgets the session's entry at once. With PostgreSQL,
// several web processes serve the same sessions and another one's cache
// would outlive a logout there, so every request asks the database (one
// lookup by primary key).

const (
	sessionTTL  = 30 * 24 * time.Hour
	sessionName = "session"
)

type viewerKey struct{}

// viewer is the user the request comes from, nil if nobody is logged in.
func viewer(r *http.Request) *User {
	u, _ := r.Context().Value(viewerKey{}).(*User)
	return u
}

// viewerID is the viewer's ID, 0 for nobody.
func viewerID(r *http.Request) int64 {
	if u := viewer(r); u != nil {
		return u.ID
	}
	return 0
}

// withViewer puts the user of the request's session in its context.
func (s *Server) withViewer(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := r.Cookie(sessionName)
		if err != nil || c.Value == "" || strings.HasPrefix(r.URL.Path, "/static/") || strings.HasPrefix(r.URL.Path, "/media/") {
			next.ServeHTTP(w, r)
			return
		}
		cache := !s.db.postgres
		u, ok := User{}, false
		generation := s.db.Generation() // before reading: a write meanwhile makes the entry stale
		if cache {
			u, ok = s.sessions.get(c.Value, generation)
		}
		if !ok {
			u, err = s.db.SessionUser(r.Context(), c.Value)
			if err != nil {
				if !errors.Is(err, ErrNotFound) {
					s.fail(w, r, err)
					return
				}
				next.ServeHTTP(w, r)
				return
			}
			if cache {
				s.sessions.put(c.Value, u, generation)
			}
		}
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), viewerKey{}, &u)))
	})
}

// requireViewer returns the viewer, or sends anonymous visitors to the
// login page and returns nil.
func requireViewer(w http.ResponseWriter, r *http.Request) *User {
	u := viewer(r)
	if u == nil {
		next := r.URL.RequestURI()
		if r.Method != http.MethodGet {
			next = r.Referer()
			if ref, err := url.Parse(next); err == nil {
				next = ref.RequestURI()
			}
		}
		http.Redirect(w, r, "/login?next="+url.QueryEscape(localPath(next)), http.StatusSeeOther)
	}
	return u
}

// sessionCache maps session tokens to their users for a while, and until
// the database's generation changes.
type sessionCache struct {
	mu sync.Mutex
	m  map[string]cachedSession
}

type cachedSession struct {
	user       User
	generation uint64 // DB.Generation before the user was read
	expires    time.Time
}

const sessionCacheTTL = 30 * time.Second

func (c *sessionCache) get(token string, generation uint64) (User, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.m[token]
	if !ok || e.generation != generation || time.Now().After(e.expires) {
		return User{}, false
	}
	return e.user, true
}

func (c *sessionCache) put(token string, u User, generation uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil || len(c.m) > 10000 {
		c.m = make(map[string]cachedSession)
	}
	c.m[token] = cachedSession{u, generation, time.Now().Add(sessionCacheTTL)}
}

// forget drops a token, or every token of a user when token is "".
func (c *sessionCache) forget(token string, userID int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if token != "" {
		delete(c.m, token)
		return
	}
	for k, e := range c.m {
		if e.user.ID == userID {
			delete(c.m, k)
		}
	}
}
