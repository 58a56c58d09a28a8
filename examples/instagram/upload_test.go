package main

import (
	"context"
	"io/fs"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"path/filepath"
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
