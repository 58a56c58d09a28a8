package main

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// A post: its page and JSON, likes, comments, deletion. Creating a post is
// an upload (upload.go).

// pathID is the {id} of the request's path; ErrNotFound if it is none.
func pathID(r *http.Request) (int64, error) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id <= 0 {
		return 0, ErrNotFound
	}
	return id, nil
}

func (s *Server) postPage(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	p, comments, err := s.db.Post(r.Context(), id, viewerID(r))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	title := "Photo by @" + p.Author.Username
	s.render(w, r, http.StatusOK, "post", page{Title: title, Post: p, Comments: comments})
}

// postJSON gives a post with its picture's variant URLs, as the REST
// output of django-pictures does.
func (s *Server) postJSON(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r)
	if err == nil {
		var p Post
		p, _, err = s.db.Post(r.Context(), id, viewerID(r))
		if err == nil {
			w.Header().Set("Content-Type", "application/json")
			err = json.NewEncoder(w).Encode(map[string]any{
				"id":         p.ID,
				"author":     p.Author.Username,
				"caption":    p.Caption,
				"created_at": p.CreatedAt,
				"likes":      p.Likes,
				"comments":   p.Comments,
				"processing": !s.post.Current(p.Image),
				"image":      p.Image,
				"url":        "/p/" + strconv.FormatInt(p.ID, 10),
			})
			if err != nil {
				s.log.Error("instagram: encoding JSON", "err", err)
			}
			return
		}
	}
	if errors.Is(err, ErrNotFound) {
		jsonError(w, http.StatusNotFound, "not found")
		return
	}
	s.fail(w, r, err)
}

func (s *Server) like(w http.ResponseWriter, r *http.Request) {
	me := requireViewer(w, r)
	if me == nil {
		return
	}
	id, err := pathID(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	liked, n, err := s.db.ToggleLike(r.Context(), me.ID, id)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if r.Header.Get("HX-Request") == "true" {
		// htmx swaps the button in place.
		s.pages["feed"].ExecuteTemplate(w, "like", Post{ID: id, Likes: n, LikedByViewer: liked})
		return
	}
	back(w, r, "/p/"+strconv.FormatInt(id, 10), "post-"+strconv.FormatInt(id, 10))
}

func (s *Server) comment(w http.ResponseWriter, r *http.Request) {
	me := requireViewer(w, r)
	if me == nil {
		return
	}
	id, err := pathID(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	body := strings.TrimSpace(r.PostFormValue("body"))
	postURL := "/p/" + strconv.FormatInt(id, 10)
	if body == "" || utf8.RuneCountInString(body) > maxComment {
		back(w, r, postURL, "")
		return
	}
	if _, err := s.db.AddComment(r.Context(), id, me.ID, body, time.Now()); err != nil {
		s.fail(w, r, err)
		return
	}
	http.Redirect(w, r, postURL+"#comments", http.StatusSeeOther)
}

func (s *Server) deletePost(w http.ResponseWriter, r *http.Request) {
	me := requireViewer(w, r)
	if me == nil {
		return
	}
	id, err := pathID(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	img, err := s.db.DeletePost(r.Context(), id, me.ID)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	// The row is gone: delete the original and every variant.
	if err := s.post.Delete(r.Context(), img); err != nil {
		s.log.Error("instagram: deleting a post's files", "key", img.Key, "err", err)
	}
	http.Redirect(w, r, "/u/"+url.PathEscape(me.Username), http.StatusSeeOther)
}

func (s *Server) deleteComment(w http.ResponseWriter, r *http.Request) {
	me := requireViewer(w, r)
	if me == nil {
		return
	}
	id, err := pathID(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	postID, err := s.db.DeleteComment(r.Context(), id, me.ID)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	http.Redirect(w, r, "/p/"+strconv.FormatInt(postID, 10)+"#comments", http.StatusSeeOther)
}
