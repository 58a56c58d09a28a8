package main

import (
	"net/http"
	"sync"
	"time"
)

// pageCache keeps rendered pages for a few seconds, per viewer and URL,
// and forgets them all as soon as the database changes: a page is served
// from the cache only if no write happened since it was rendered. Busy
// pages (a feed refreshed by many people) then cost a map lookup; any like,
// comment, post or finished picture shows at once.
type pageCache struct {
	mu      sync.Mutex
	entries map[cacheKey]cachedPage
}

type cacheKey struct {
	viewer int64
	uri    string
}

type cachedPage struct {
	generation uint64
	at         time.Time
	header     http.Header
	body       []byte
}

const (
	pageCacheTTL     = 10 * time.Second // relative times ("5m") stay right
	pageCacheEntries = 4096
)

func (c *pageCache) get(k cacheKey, generation uint64) (cachedPage, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.entries[k]
	if !ok || e.generation != generation || time.Since(e.at) > pageCacheTTL {
		return cachedPage{}, false
	}
	return e, true
}

func (c *pageCache) put(k cacheKey, e cachedPage) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.entries == nil || len(c.entries) >= pageCacheEntries {
		c.entries = make(map[cacheKey]cachedPage)
	}
	c.entries[k] = e
}

// cached serves GET pages from the cache when it can, and fills it.
func (s *Server) cached(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if s.cache == nil {
			h(w, r)
			return
		}
		k := cacheKey{viewerID(r), r.URL.RequestURI()}
		generation := s.db.Generation() // before reading: a write while rendering makes the page stale
		if e, ok := s.cache.get(k, generation); ok {
			for name, v := range e.header {
				w.Header()[name] = v
			}
			w.Write(e.body)
			return
		}
		rec := &recorder{ResponseWriter: w, status: http.StatusOK}
		h(rec, r)
		if rec.status == http.StatusOK && rec.header != nil {
			s.cache.put(k, cachedPage{generation: generation, at: time.Now(), header: rec.header, body: rec.body})
		}
	}
}

// recorder passes a response through and keeps a copy.
type recorder struct {
	http.ResponseWriter
	status int
	header http.Header
	body   []byte
}

func (r *recorder) WriteHeader(status int) {
	r.status = status
	r.snapshot()
	r.ResponseWriter.WriteHeader(status)
}

func (r *recorder) Write(b []byte) (int, error) {
	r.snapshot()
	r.body = append(r.body, b...)
	return r.ResponseWriter.Write(b)
}

func (r *recorder) snapshot() {
	if r.header == nil {
		r.header = http.Header{}
		for _, name := range []string{"Content-Type", "Cache-Control"} {
			if v := r.ResponseWriter.Header().Values(name); len(v) > 0 {
				r.header[name] = v
			}
		}
	}
}
