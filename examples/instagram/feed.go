package main

import (
	"net/http"
	"net/url"
	"strconv"
)

// Feeds of posts: the viewer's feed, explore, profiles, and following.

// card is a post in the feed, with what its template needs besides.
type card struct {
	Post   Post
	Eager  bool // the first post loads at once, the others lazily
	Viewer *User
}

// Cards returns the page's posts as feed cards.
func (p page) Cards() []card {
	cards := make([]card, len(p.Posts))
	for i, post := range p.Posts {
		cards[i] = card{Post: post, Eager: i == 0, Viewer: p.Viewer}
	}
	return cards
}

// paginate trims the extra post fetched to tell whether a next page exists.
func paginate(posts []Post, size int) ([]Post, int64) {
	if len(posts) > size {
		return posts[:size], posts[size-1].ID
	}
	return posts, 0
}

// cursor is the ?before= of a page: the ID its posts are older than.
func cursor(r *http.Request) int64 {
	n, _ := strconv.ParseInt(r.URL.Query().Get("before"), 10, 64)
	return n
}

func (s *Server) feed(w http.ResponseWriter, r *http.Request) {
	u := requireViewer(w, r)
	if u == nil {
		return
	}
	posts, err := s.db.Feed(r.Context(), u.ID, cursor(r), PageSize+1)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	posts, next := paginate(posts, PageSize)
	s.render(w, r, http.StatusOK, "feed", page{Title: "Instagram", Posts: posts, Next: next})
}

func (s *Server) explore(w http.ResponseWriter, r *http.Request) {
	posts, err := s.db.Explore(r.Context(), viewerID(r), cursor(r), PageSize+1)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	posts, next := paginate(posts, PageSize)
	s.render(w, r, http.StatusOK, "explore", page{Title: "Explore", Posts: posts, Next: next, Seeding: len(posts) == 0 && s.seeding()})
}

func (s *Server) profile(w http.ResponseWriter, r *http.Request) {
	u, err := s.db.Profile(r.Context(), r.PathValue("username"), viewerID(r))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	posts, err := s.db.UserPosts(r.Context(), u.ID, viewerID(r), cursor(r), PageSize+1)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	posts, next := paginate(posts, PageSize)
	title := "@" + u.Username
	if u.Name != "" {
		title = u.Name + " (@" + u.Username + ")"
	}
	s.render(w, r, http.StatusOK, "profile", page{Title: title, Profile: u, Posts: posts, Next: next})
}

func (s *Server) follow(w http.ResponseWriter, r *http.Request) {
	me := requireViewer(w, r)
	if me == nil {
		return
	}
	u, err := s.db.Profile(r.Context(), r.PathValue("username"), me.ID)
	if err == nil {
		_, err = s.db.ToggleFollow(r.Context(), me.ID, u.ID)
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	http.Redirect(w, r, "/u/"+url.PathEscape(u.Username), http.StatusSeeOther)
}
