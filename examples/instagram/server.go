package main

import (
	"bytes"
	"context"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/gopictures/pictures"
)

//go:embed templates static
var assets embed.FS

// Limits of user input, as on the real site.
const (
	maxCaption  = 2200
	maxComment  = 2200
	maxBio      = 150
	maxName     = 60
	sessionTTL  = 30 * 24 * time.Hour
	sessionName = "session"
)

// Server serves the app's pages.
type Server struct {
	db         *DB
	post       *pictures.PictureField
	avatar     *pictures.PictureField
	log        *slog.Logger
	bcryptCost int
	pages      map[string]*template.Template
	handler    http.Handler
	sessions   sessionCache
	throttle   *throttle
	cache      *pageCache // nil: no page cache
}

// newServer returns the app's handler. media serves /media/ (nil when
// pictures are served from elsewhere, such as S3), and mediaOrigin is the
// origin images come from besides this one ("" for none), for the
// Content-Security-Policy.
func newServer(db *DB, post, avatar *pictures.PictureField, media http.Handler, mediaOrigin string, log *slog.Logger, bcryptCost int, cachePages bool) *Server {
	s := &Server{db: db, post: post, avatar: avatar, log: log, bcryptCost: bcryptCost, throttle: newThrottle(5, 15*time.Minute)}
	s.pages = parsePages()
	if cachePages {
		s.cache = &pageCache{}
	}

	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", s.cached(s.feed))
	mux.HandleFunc("GET /explore", s.cached(s.explore))
	mux.HandleFunc("GET /u/{username}", s.cached(s.profile))
	mux.HandleFunc("POST /u/{username}/follow", s.follow)
	mux.HandleFunc("GET /p/{id}", s.cached(s.postPage))
	mux.HandleFunc("GET /api/posts/{id}", s.postJSON)
	mux.HandleFunc("POST /p/{id}/like", s.like)
	mux.HandleFunc("POST /p/{id}/comments", s.comment)
	mux.HandleFunc("POST /p/{id}/delete", s.deletePost)
	mux.HandleFunc("POST /comments/{id}/delete", s.deleteComment)
	mux.HandleFunc("GET /new", s.newPostForm)
	mux.HandleFunc("POST /new", s.newPost)
	mux.HandleFunc("GET /settings", s.settingsForm)
	mux.HandleFunc("POST /settings", s.settings)
	mux.HandleFunc("GET /signup", s.signupForm)
	mux.HandleFunc("POST /signup", s.signup)
	mux.HandleFunc("GET /login", s.loginForm)
	mux.HandleFunc("POST /login", s.login)
	mux.HandleFunc("POST /logout", s.logout)
	if media != nil {
		mux.Handle("GET /media/", media)
	}
	static, _ := fs.Sub(assets, "static")
	mux.Handle("GET /static/", http.StripPrefix("/static/", cacheForever(http.FileServerFS(static))))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("ok\n")) })

	// Every state-changing request must come from our own pages: Go's
	// cross-origin protection refuses the others (CSRF).
	csrf := http.NewCrossOriginProtection()
	s.handler = securityHeaders(csrf.Handler(s.withViewer(mux)), mediaOrigin)
	return s
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

// Sessions. The viewer of a request comes from its session cookie; a
// small cache spares the database a lookup per request.

type viewerKey struct{}

func viewer(r *http.Request) *User {
	u, _ := r.Context().Value(viewerKey{}).(*User)
	return u
}

func viewerID(r *http.Request) int64 {
	if u := viewer(r); u != nil {
		return u.ID
	}
	return 0
}

type sessionCache struct {
	mu sync.Mutex
	m  map[string]cachedSession
}

type cachedSession struct {
	user    User
	expires time.Time
}

const sessionCacheTTL = 30 * time.Second

func (c *sessionCache) get(token string) (User, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.m[token]
	if !ok || time.Now().After(e.expires) {
		return User{}, false
	}
	return e.user, true
}

func (c *sessionCache) put(token string, u User) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil || len(c.m) > 10000 {
		c.m = make(map[string]cachedSession)
	}
	c.m[token] = cachedSession{u, time.Now().Add(sessionCacheTTL)}
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

func (s *Server) withViewer(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := r.Cookie(sessionName)
		if err != nil || c.Value == "" || strings.HasPrefix(r.URL.Path, "/static/") || strings.HasPrefix(r.URL.Path, "/media/") {
			next.ServeHTTP(w, r)
			return
		}
		u, ok := s.sessions.get(c.Value)
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
			s.sessions.put(c.Value, u)
		}
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), viewerKey{}, &u)))
	})
}

// requireViewer sends anonymous visitors to the login page.
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

// localPath returns p if it is a path on this site, else "/": redirects
// never lead elsewhere.
func localPath(p string) string {
	if !strings.HasPrefix(p, "/") || strings.HasPrefix(p, "//") || strings.HasPrefix(p, "/\\") {
		return "/"
	}
	return p
}

// back redirects to the page the form was on, or fallback.
func back(w http.ResponseWriter, r *http.Request, fallback string) {
	target := fallback
	if ref, err := url.Parse(r.Referer()); err == nil && ref.Host == r.Host && ref.Path != "" {
		target = localPath(ref.RequestURI())
	}
	http.Redirect(w, r, target, http.StatusSeeOther)
}

// Pages.

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
}

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

func (s *Server) fail(w http.ResponseWriter, r *http.Request, err error) {
	switch {
	case errors.Is(err, ErrNotFound):
		s.render(w, r, http.StatusNotFound, "error", page{Title: "Page not found", Error: "Sorry, this page isn't available."})
	case errors.Is(err, ErrForbidden):
		s.render(w, r, http.StatusForbidden, "error", page{Title: "Not allowed", Error: "You can't do that."})
	default:
		s.log.Error("instagram: request failed", "method", r.Method, "path", r.URL.Path, "err", err)
		http.Error(w, "Something went wrong. Please try again.", http.StatusInternalServerError)
	}
}

// paginate trims the extra post fetched to tell whether a next page exists.
func paginate(posts []Post, size int) ([]Post, int64) {
	if len(posts) > size {
		return posts[:size], posts[size-1].ID
	}
	return posts, 0
}

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
	s.render(w, r, http.StatusOK, "explore", page{Title: "Explore", Posts: posts, Next: next})
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
		http.Error(w, `{"error":"not found"}`, http.StatusNotFound)
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
	back(w, r, "/p/"+strconv.FormatInt(id, 10))
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
		back(w, r, postURL)
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

func (s *Server) newPostForm(w http.ResponseWriter, r *http.Request) {
	if requireViewer(w, r) == nil {
		return
	}
	s.render(w, r, http.StatusOK, "new", page{Title: "New post"})
}

// uploadError turns an upload failure into a message for the form.
func uploadError(err error, limit int64) string {
	var refused *pictures.UploadError
	var tooBig *http.MaxBytesError
	switch {
	case errors.As(err, &refused):
		return refused.Message
	case errors.As(err, &tooBig):
		return fmt.Sprintf("The file is larger than %d MB.", limit>>20)
	case errors.Is(err, http.ErrMissingFile):
		return "Choose a photo to share."
	}
	return ""
}

func (s *Server) newPost(w http.ResponseWriter, r *http.Request) {
	me := requireViewer(w, r)
	if me == nil {
		return
	}
	limit := s.maxUpload(s.post)
	form := page{Title: "New post", Form: url.Values{}}
	refuse := func(msg string) {
		form.Error = msg
		s.render(w, r, http.StatusUnprocessableEntity, "new", form)
	}
	if msg := parseUpload(w, r, limit); msg != "" {
		refuse(msg)
		return
	}
	defer r.MultipartForm.RemoveAll()
	caption := strings.TrimSpace(r.PostFormValue("caption"))
	form.Form.Set("caption", caption)
	if n := utf8.RuneCountInString(caption); n > maxCaption {
		refuse(fmt.Sprintf("The caption is %d characters long; the limit is %d.", n, maxCaption))
		return
	}
	file, header, err := r.FormFile("photo")
	if err != nil {
		refuse(uploadError(err, limit))
		return
	}
	defer file.Close()
	img, err := s.post.Upload(r.Context(), file, header.Filename)
	if err != nil {
		if msg := uploadError(err, limit); msg != "" {
			refuse(msg)
			return
		}
		s.fail(w, r, err)
		return
	}
	id, err := s.db.CreatePost(r.Context(), me.ID, caption, img, time.Now())
	if err != nil {
		s.post.Delete(context.WithoutCancel(r.Context()), img)
		s.fail(w, r, err)
		return
	}
	s.scheduleSaved(r.Context(), s.post, img)
	http.Redirect(w, r, "/p/"+strconv.FormatInt(id, 10), http.StatusSeeOther)
}

// scheduleSaved schedules the processing of a picture whose row was just
// written: once the row exists, so the job always finds it. With
// PostgreSQL the job was enqueued in the row's transaction already. A
// failure is logged; the picture is caught up at the next start.
func (s *Server) scheduleSaved(ctx context.Context, f *pictures.PictureField, p pictures.Picture) {
	if s.db.EnqueuesJobs() {
		return
	}
	if err := f.Schedule(ctx, p); err != nil {
		s.log.Error("instagram: scheduling", "key", p.Key, "err", err)
	}
}

// parseUpload reads a multipart form whose file may be limit bytes (and
// its other fields 64 KB more), keeping at most 1 MB in memory. It returns
// a message for the form if the request is refused.
func parseUpload(w http.ResponseWriter, r *http.Request, limit int64) string {
	r.Body = http.MaxBytesReader(w, r.Body, limit+64<<10)
	if err := r.ParseMultipartForm(1 << 20); err != nil {
		if msg := uploadError(err, limit); msg != "" {
			return msg
		}
		return "The upload did not arrive whole. Please try again."
	}
	return ""
}

// maxUpload is the field's byte limit.
func (s *Server) maxUpload(f *pictures.PictureField) int64 {
	if f.MaxBytes > 0 {
		return f.MaxBytes
	}
	return pictures.DefaultMaxBytes
}

func (s *Server) settingsForm(w http.ResponseWriter, r *http.Request) {
	me := requireViewer(w, r)
	if me == nil {
		return
	}
	s.render(w, r, http.StatusOK, "settings", page{Title: "Edit profile", Form: url.Values{"name": {me.Name}, "bio": {me.Bio}}})
}

func (s *Server) settings(w http.ResponseWriter, r *http.Request) {
	me := requireViewer(w, r)
	if me == nil {
		return
	}
	limit := s.maxUpload(s.avatar)
	form := page{Title: "Edit profile", Form: url.Values{}}
	refuse := func(msg string) {
		form.Error = msg
		s.render(w, r, http.StatusUnprocessableEntity, "settings", form)
	}
	if msg := parseUpload(w, r, limit); msg != "" {
		refuse(msg)
		return
	}
	defer r.MultipartForm.RemoveAll()
	name := strings.TrimSpace(r.PostFormValue("name"))
	bio := strings.TrimSpace(r.PostFormValue("bio"))
	form.Form.Set("name", name)
	form.Form.Set("bio", bio)
	if n := utf8.RuneCountInString(bio); n > maxBio {
		refuse(fmt.Sprintf("The bio is %d characters long; the limit is %d.", n, maxBio))
		return
	}
	if n := utf8.RuneCountInString(name); n > maxName {
		refuse(fmt.Sprintf("The name is %d characters long; the limit is %d.", n, maxName))
		return
	}
	if file, header, err := r.FormFile("avatar"); err == nil {
		defer file.Close()
		img, err := s.avatar.Upload(r.Context(), file, header.Filename)
		if err != nil {
			if msg := uploadError(err, limit); msg != "" {
				refuse(msg)
				return
			}
			s.fail(w, r, err)
			return
		}
		old, err := s.db.SetAvatar(r.Context(), me.ID, img)
		if err != nil {
			s.avatar.Delete(context.WithoutCancel(r.Context()), img)
			s.fail(w, r, err)
			return
		}
		s.scheduleSaved(r.Context(), s.avatar, img)
		if err := s.avatar.Delete(r.Context(), old); err != nil {
			s.log.Error("instagram: deleting the old avatar", "key", old.Key, "err", err)
		}
	} else if !errors.Is(err, http.ErrMissingFile) {
		refuse(uploadError(err, limit))
		return
	}
	if err := s.db.UpdateProfile(r.Context(), me.ID, name, bio); err != nil {
		s.fail(w, r, err)
		return
	}
	s.sessions.forget("", me.ID)
	http.Redirect(w, r, "/u/"+url.PathEscape(me.Username), http.StatusSeeOther)
}
