package main

import (
	"context"
	"io/fs"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/crypto/bcrypt"

	"github.com/gopictures/pictures"
	"github.com/gopictures/pictures/internal/syncbuf"
	"github.com/gopictures/pictures/storage"
)

// TestUploadRecordsJobsThatFinishFirst serves the app with a processor
// that finishes each job before the upload's handler goes on
// (pictures.Synchronous): the job's OnProcessed then runs right after the
// row is written, and the variants it reports must be recorded, for a new
// post and for a new avatar alike. A store that fails leaves no file.
func TestUploadRecordsJobsThatFinishFirst(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	db, err := openDB(ctx, filepath.Join(dir, "instagram.db"))
	require.NoError(t, err)
	t.Cleanup(func() { db.Close() })
	media := &storage.Dir{Root: filepath.Join(dir, "media"), BaseURL: "/media/"}
	post, avatar := newPostImage(), newUserAvatar()
	for _, f := range []*pictures.PictureField{post, avatar} {
		f.Storage, f.Processor, f.OnProcessed = media, pictures.Synchronous, db.SavePicture
	}
	require.NoError(t, pictures.Register(post, avatar))
	t.Cleanup(func() { pictures.Unregister(post, avatar) })
	var logs syncbuf.Buffer
	s, err := newServer(ServerConfig{DB: db, Post: post, Avatar: avatar, Media: media.Handler(),
		Logger: slog.New(slog.NewTextHandler(&logs, nil)), BcryptCost: bcrypt.MinCost})
	require.NoError(t, err)
	srv := httptest.NewServer(s)
	t.Cleanup(srv.Close)
	jar, _ := cookiejar.New(nil)
	c := &client{t: t, base: srv.URL, http: &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error {
		return http.ErrUseLastResponse
	}}}
	c.signup("ada")

	id := c.newPost("processed at once", photo(t, 400, 500))
	p, _, err := db.Post(ctx, id, 0)
	require.NoError(t, err)
	assert.True(t, post.Current(p.Image), "the post records the variants of the job that finished first: %+v", p.Image)
	assert.Equal(t, false, c.postJSON(id)["processing"])

	res := c.upload("/settings", map[string]string{"name": "Ada"}, "avatar", "me.jpg", photo(t, 300, 300))
	require.Equal(t, http.StatusSeeOther, res.status, res.body)
	u, err := db.Profile(ctx, "ada", 0)
	require.NoError(t, err)
	assert.True(t, avatar.Current(u.Avatar), "the user records the avatar's variants: %+v", u.Avatar)

	// Without the posts table, storing the row fails, and the original is
	// deleted again.
	files := func() (n int) {
		filepath.WalkDir(media.Root, func(_ string, e fs.DirEntry, err error) error {
			if err == nil && !e.IsDir() {
				n++
			}
			return nil
		})
		return n
	}
	before := files()
	_, err = db.ExecContext(ctx, `DROP TABLE posts`)
	require.NoError(t, err)
	res = c.upload("/new", map[string]string{"caption": "lost"}, "photo", "photo.jpg", photo(t, 400, 400))
	assert.Equal(t, http.StatusInternalServerError, res.status, res.body)
	assert.Contains(t, logs.String(), "pictures: storing posts/")
	assert.Equal(t, before, files(), "a picture whose row could not be stored leaves no file")
}

func TestNewServerNeeds(t *testing.T) {
	db, post, avatar := &DB{}, newPostImage(), newUserAvatar()
	for _, tc := range []struct {
		cfg  ServerConfig
		want string
	}{
		{ServerConfig{Post: post, Avatar: avatar}, "ServerConfig.DB is nil"},
		{ServerConfig{DB: db, Avatar: avatar}, "ServerConfig.Post is nil"},
		{ServerConfig{DB: db, Post: post}, "ServerConfig.Avatar is nil"},
		{ServerConfig{DB: db, Post: post, Avatar: avatar, BcryptCost: 99}, "ServerConfig.BcryptCost must be between 4 and 31, got 99"},
	} {
		_, err := newServer(tc.cfg)
		assert.EqualError(t, err, tc.want)
	}
	s, err := newServer(ServerConfig{DB: db, Post: post, Avatar: avatar})
	require.NoError(t, err)
	assert.Equal(t, bcrypt.DefaultCost, s.bcryptCost, "the zero BcryptCost is bcrypt's default")
	assert.Nil(t, s.cache, "no page cache unless asked")
}

// TestCachedViewerSeesProcessedAvatar: the viewer of a request comes from
// the session cache, and the viewer's avatar is in it. Once the avatar is
// processed, the next page shows its variants in the top bar, even from a
// session that cached the viewer while the avatar was being processed (the
// browser test found a stale top-bar avatar for the cache's 30 seconds).
func TestCachedViewerSeesProcessedAvatar(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	db, err := openDB(ctx, filepath.Join(dir, "instagram.db"))
	require.NoError(t, err)
	t.Cleanup(func() { db.Close() })
	media := &storage.Dir{Root: filepath.Join(dir, "media"), BaseURL: "/media/"}
	var held []pictures.Job // jobs run when the test says so
	hold := pictures.ProcessorFunc(func(_ context.Context, job pictures.Job) error {
		held = append(held, job)
		return nil
	})
	post, avatar := newPostImage(), newUserAvatar()
	for _, f := range []*pictures.PictureField{post, avatar} {
		f.Storage, f.Processor, f.OnProcessed = media, hold, db.SavePicture
	}
	require.NoError(t, pictures.Register(post, avatar))
	t.Cleanup(func() { pictures.Unregister(post, avatar) })
	s, err := newServer(ServerConfig{DB: db, Post: post, Avatar: avatar, Media: media.Handler(), BcryptCost: bcrypt.MinCost})
	require.NoError(t, err)
	srv := httptest.NewServer(s)
	t.Cleanup(srv.Close)
	newClient := func() *client {
		jar, _ := cookiejar.New(nil)
		return &client{t: t, base: srv.URL, http: &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		}}}
	}
	browser, phone := newClient(), newClient()
	browser.signup("ada")
	require.Equal(t, http.StatusSeeOther, phone.post("/login", url.Values{"username": {"ada"}, "password": {"correct horse"}}).status)

	topBar := func() string {
		t.Helper()
		res := browser.get("/explore")
		require.Equal(t, http.StatusOK, res.status)
		_, nav, ok := strings.Cut(res.body, `class="nav-me"`)
		require.True(t, ok, "the top bar links to the viewer's profile")
		nav, _, _ = strings.Cut(nav, "</a>")
		return nav
	}
	assert.Contains(t, topBar(), "avatar-none", "no avatar yet")
	res := phone.upload("/settings", map[string]string{"name": "Ada"}, "avatar", "me.jpg", photo(t, 300, 300))
	require.Equal(t, http.StatusSeeOther, res.status, res.body)
	nav := topBar() // cached: the avatar is being processed
	assert.NotContains(t, nav, "avatar-none")
	assert.NotContains(t, nav, "<source", "not processed yet: the preview only")
	require.Len(t, held, 1)
	require.NoError(t, pictures.Run(ctx, held[0]))
	nav = topBar()
	assert.Contains(t, nav, `<source type="image/avif"`, "the processed avatar's variants, not the cached viewer's preview")
}
