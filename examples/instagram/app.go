package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/gopictures/pictures"
	"github.com/gopictures/pictures/processor"
	"github.com/gopictures/pictures/processor/pipeline"
	"github.com/gopictures/pictures/storage"
)

// Config configures the app. The zero value of each field means its default.
type Config struct {
	Addr    string // listen address; "127.0.0.1:0" picks a free port
	DataDir string // holds instagram.db and media/
	Demo    bool   // seed a demo into an empty database
	Logger  *slog.Logger

	// BcryptCost is the password hashing cost. Defaults to bcrypt's
	// default; tests lower it.
	BcryptCost int
	// Workers is the number of pictures processed at once. Defaults to
	// the processor's default (GOMAXPROCS).
	Workers int
	// MaxUploadBytes bounds photo and avatar files. Defaults to 32 MiB.
	MaxUploadBytes int64
	// NoPageCache turns off the cache of rendered pages (see pageCache).
	NoPageCache bool
}

// The picture fields of the app. Their names are stored in every picture.
const (
	postImage  = "post.image"
	userAvatar = "user.avatar"
)

// newPostImage is the field of post photos: the original ratio, 1/1 (grids)
// and 4/5 (tall photos in the feed), laid out on a 3-column grid in a
// 935 px container, for screens of density 1, 2 and 3.
func newPostImage() *pictures.PictureField {
	return &pictures.PictureField{
		Name:           postImage,
		AspectRatios:   []string{"", "1/1", "4/5"},
		ContainerWidth: 935,
		GridColumns:    3,
		PixelDensities: []int{1, 2, 3},
		FileTypes:      []string{"AVIF"},
		UploadTo:       "posts/%Y/%m/%d",
		MinWidth:       320, MinHeight: 320,
		MaxWidth: 8192, MaxHeight: 8192,
	}
}

// newUserAvatar is the field of avatars. Avatars are small and fixed in
// size, so its "grid" is 5 columns of 32 px in a 160 px container: one
// column is the 32 px avatar of the feed, three the 96 px one of a profile
// on a phone, five the 160 px one on a wider screen.
func newUserAvatar() *pictures.PictureField {
	return &pictures.PictureField{
		Name:           userAvatar,
		AspectRatios:   []string{"1/1"},
		ContainerWidth: 160,
		GridColumns:    5,
		PixelDensities: []int{1, 2, 3},
		FileTypes:      []string{"AVIF"},
		UploadTo:       "avatars/%Y/%m",
		MinWidth:       150, MinHeight: 150,
		MaxWidth: 4096, MaxHeight: 4096,
	}
}

// Main is the running app: start it with Run, stop it with Close.
type Main struct {
	cfg Config
	// URL is where the app listens, once Run returned.
	URL string

	db          *DB
	pool        *processor.Pool[pictures.Job]
	post        *pictures.PictureField
	avatar      *pictures.PictureField
	server      *Server
	http        *http.Server
	seeded      chan struct{} // closed when the demo is seeded (or not needed)
	seedStarted bool
}

// NewMain returns an app with the given configuration.
func NewMain(cfg Config) *Main {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.BcryptCost == 0 {
		cfg.BcryptCost = bcrypt.DefaultCost
	}
	if cfg.DataDir == "" {
		cfg.DataDir = "./instagram-data"
	}
	if cfg.MaxUploadBytes == 0 {
		cfg.MaxUploadBytes = pictures.DefaultMaxBytes
	}
	return &Main{cfg: cfg, seeded: make(chan struct{})}
}

// Run opens the database and media directory, registers the picture
// fields, starts the processing pool and the HTTP server, and returns once
// the server listens. Seeding the demo and catching up on pictures whose
// processing was interrupted continue in the background.
func (m *Main) Run(ctx context.Context) error {
	log := m.cfg.Logger
	if err := os.MkdirAll(m.cfg.DataDir, 0o755); err != nil {
		return err
	}
	db, err := openDB(ctx, filepath.Join(m.cfg.DataDir, "instagram.db"))
	if err != nil {
		return err
	}
	m.db = db
	media := &storage.Dir{Root: filepath.Join(m.cfg.DataDir, "media"), BaseURL: "/media/"}

	m.pool = processor.New(processor.Config{Workers: m.cfg.Workers, Logger: log}, pictures.Run)
	m.post, m.avatar = newPostImage(), newUserAvatar()
	for _, f := range []*pictures.PictureField{m.post, m.avatar} {
		f.Storage, f.Processor, f.Logger = media, m.pool, log
		f.OnProcessed = db.SavePicture
		f.MaxBytes = m.cfg.MaxUploadBytes
	}
	// Registering logs the AVIF encoder in use (system libavif or WASM).
	if err := pictures.Register(m.post, m.avatar); err != nil {
		return err
	}

	m.server = newServer(db, m.post, m.avatar, media, log, m.cfg.BcryptCost, !m.cfg.NoPageCache)
	ln, err := net.Listen("tcp", m.cfg.Addr)
	if err != nil {
		return err
	}
	m.URL = "http://" + ln.Addr().String()
	m.http = &http.Server{
		Handler:           m.server,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	go func() {
		if err := m.http.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("instagram: serve", "err", err)
		}
	}()

	// Start the AVIF encoders now, so the first upload does not wait for
	// their set-up (a few seconds of CPU with the WebAssembly backend).
	go func() {
		if err := pipeline.StartAVIFWorkers(context.WithoutCancel(ctx)); err != nil {
			log.Warn("instagram: starting the AVIF workers", "err", err)
		}
	}()

	n, err := db.CountUsers(ctx)
	if err != nil {
		return err
	}
	m.seedStarted = true
	go func() {
		defer close(m.seeded)
		if n == 0 && m.cfg.Demo {
			if err := seedDemo(context.WithoutCancel(ctx), m); err != nil {
				log.Error("instagram: seeding the demo", "err", err)
			}
			return
		}
		m.catchUp(context.WithoutCancel(ctx))
	}()
	return nil
}

// catchUp schedules every picture whose variants are not current: jobs
// lost when the process stopped, or a changed field configuration (the
// equivalent of django-pictures' migration).
func (m *Main) catchUp(ctx context.Context) {
	all, err := m.db.AllPictures(ctx)
	if err != nil {
		m.cfg.Logger.Error("instagram: listing pictures", "err", err)
		return
	}
	n := 0
	for _, p := range all {
		f := m.post
		if p.Field == userAvatar {
			f = m.avatar
		}
		if !f.Current(p) {
			if err := f.Schedule(ctx, p); err != nil {
				m.cfg.Logger.Error("instagram: scheduling", "key", p.Key, "err", err)
				return
			}
			n++
		}
	}
	if n > 0 {
		m.cfg.Logger.Info(fmt.Sprintf("instagram: processing %d pictures that are not up to date", n))
	}
}

// Close stops the server, lets queued pictures finish (until ctx ends),
// and closes the database.
func (m *Main) Close(ctx context.Context) error {
	var errs []error
	if m.http != nil {
		errs = append(errs, m.http.Shutdown(ctx))
	}
	if m.pool != nil {
		// Seeding may still be adding jobs; it stops at the pool's closing.
		errs = append(errs, m.pool.Shutdown(ctx))
	}
	if m.seedStarted {
		<-m.seeded
	}
	if m.post != nil {
		pictures.Unregister(m.post, m.avatar)
	}
	if m.db != nil {
		errs = append(errs, m.db.Close())
	}
	return errors.Join(errs...)
}
