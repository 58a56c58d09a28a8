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
// An uploadServer serves the app over a fresh SQLite database and media
// directory, with its fields' jobs given to proc.
type uploadServer struct {
	db           *DB
	media        *storage.Dir
	post, avatar *pictures.PictureField
	srv          *httptest.Server
	t            *testing.T
}

func newUploadServer(t *testing.T, proc pictures.Processor, logger *slog.Logger) *uploadServer {
	t.Helper()
	dir := t.TempDir()
	db, err := openDB(context.Background(), filepath.Join(dir, "instagram.db"))
	require.NoError(t, err)
	t.Cleanup(func() { db.Close() })
	media := &storage.Dir{Root: filepath.Join(dir, "media"), BaseURL: "/media/"}
	post, avatar := newPostImage(), newUserAvatar()
	for _, f := range []*pictures.PictureField{post, avatar} {
		f.Storage, f.Processor, f.OnProcessed = media, proc, db.SavePicture
	}
	require.NoError(t, pictures.Register(post, avatar))
	t.Cleanup(func() { pictures.Unregister(post, avatar) })
	s, err := newServer(ServerConfig{DB: db, Post: post, Avatar: avatar, Media: media.Handler(), Logger: logger, BcryptCost: bcrypt.MinCost})
	require.NoError(t, err)
	srv := httptest.NewServer(s)
	t.Cleanup(srv.Close)
	return &uploadServer{db: db, media: media, post: post, avatar: avatar, srv: srv, t: t}
}

// client returns a client of its own cookies, which does not follow
// redirects.
func (u *uploadServer) client() *client {
	jar, _ := cookiejar.New(nil)
	return &client{t: u.t, base: u.srv.URL, http: &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error {
		return http.ErrUseLastResponse
	}}}
}

func TestUploadRecordsJobsThatFinishFirst(t *testing.T) {
	ctx := context.Background()
	var logs syncbuf.Buffer
	u := newUploadServer(t, pictures.Synchronous, slog.New(slog.NewTextHandler(&logs, nil)))
	db, media, post, avatar := u.db, u.media, u.post, u.avatar
	c := u.client()
	c.signup("ada")

	id := c.newPost("processed at once", photo(t, 400, 500))
	p, _, err := db.Post(ctx, id, 0)
	require.NoError(t, err)
	assert.True(t, post.Current(p.Image), "the post records the variants of the job that finished first: %+v", p.Image)
	assert.Equal(t, false, c.postJSON(id)["processing"])

	res := c.upload("/settings", map[string]string{"name": "Ada"}, "avatar", "me.jpg", photo(t, 300, 300))
	require.Equal(t, http.StatusSeeOther, res.status, res.body)
	user, err := db.Profile(ctx, "ada", 0)
	require.NoError(t, err)
	assert.True(t, avatar.Current(user.Avatar), "the user records the avatar's variants: %+v", user.Avatar)

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
	var held []pictures.Job // jobs run when the test says so
	hold := pictures.ProcessorFunc(func(_ context.Context, job pictures.Job) error {
		held = append(held, job)
		return nil
	})
	u := newUploadServer(t, hold, nil)
	browser, phone := u.client(), u.client()
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
