package main

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	"golang.org/x/crypto/bcrypt"

	"github.com/gopictures/pictures"
	"github.com/gopictures/pictures/encoder"
	"github.com/gopictures/pictures/processor"
	"github.com/gopictures/pictures/processor/riverprocessor"
	"github.com/gopictures/pictures/storage"
	"github.com/gopictures/pictures/storage/s3storage"
)

// Config configures the app. The zero value of each field means its default.
type Config struct {
	Addr    string // listen address; "127.0.0.1:0" picks a free port
	DataDir string // holds instagram.db and media/
	Demo    bool   // seed a demo into an empty database
	Logger  *slog.Logger

	// DemoPassword is the password of the demo's users. Defaults to a
	// random one, printed once when the demo is seeded.
	DemoPassword string

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
	// Limits bound what clients may cost (see Limits).
	Limits Limits
	// TrustedProxies are the reverse proxies, such as 127.0.0.1/32, whose
	// Forwarded or X-Forwarded-For and X-Forwarded-Proto headers are
	// believed (see proxy.go). Defaults to none.
	TrustedProxies []netip.Prefix

	// DatabaseURL, when set, is a PostgreSQL URL: the app's data goes
	// there instead of DataDir's SQLite file, and pictures are processed
	// through River, by worker processes (RunWorker), which may run on
	// other machines. Each picture's job is enqueued in the transaction
	// that saves its row.
	DatabaseURL string
	// Work makes a web process with DatabaseURL also process pictures
	// (with no worker processes, nothing else would).
	Work bool
	// S3 stores media in an S3-compatible bucket instead of DataDir.
	S3 S3Config
	// RiverConfig tunes the River queue (tests shorten its timings).
	River riverprocessor.Config
}

// S3Config locates the bucket of media. Credentials come from the usual
// AWS environment (AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or a
// profile).
type S3Config struct {
	Bucket    string // the bucket (it must exist); empty: media stay local
	Endpoint  string // S3-compatible server, such as http://127.0.0.1:7070; empty: AWS
	Region    string // default us-east-1
	Prefix    string // prepended to the keys of variants, such as "media/"
	PublicURL string // where the bucket's objects under Prefix are public; empty: presigned URLs
	// OriginalsPrefix is prepended to the keys of originals, which are
	// never given a URL; default DefaultOriginalsPrefix. With PublicURL it
	// must be outside Prefix (and Prefix not empty), so that a policy
	// making the objects under Prefix public leaves the originals private.
	OriginalsPrefix string
}

// DefaultOriginalsPrefix is the default S3Config.OriginalsPrefix.
const DefaultOriginalsPrefix = "originals/"

// check refuses originals that could be public, or mixed with variants.
func (c S3Config) check() error {
	o := c.OriginalsPrefix
	switch {
	case c.PublicURL != "" && c.Prefix == "":
		return fmt.Errorf("S3: with a public URL (%q), set a prefix for the variants (such as media/), so that the originals (under %q) are outside what is public", c.PublicURL, o)
	case c.Prefix != "" && (strings.HasPrefix(o, c.Prefix) || strings.HasPrefix(c.Prefix, o)):
		return fmt.Errorf("S3: the originals' prefix %q and the variants' prefix %q overlap: give them separate folders", o, c.Prefix)
	}
	return nil
}

// The picture fields of the app. Their names are stored in every picture.
const (
	postImage  = "post.image"
	userAvatar = "user.avatar"
)

// newPostImage is the field of post photos: the original ratio, 1/1 (grid
// tiles) and 4/5 (tall photos in the feed, and every photo of a post page
// on a phone), on a 3-column grid in a 935 px container, for screens of
// density 1, 2 and 3. Its layouts are the pages' widths (static/app.css
// paints exactly their sizes):
//
//   - "feed": the feed column, all 3 columns below 768 px and 2 of 3 from
//     768 px; the template picks 4/5 for tall photos (feedRatio) and the
//     original ratio otherwise;
//   - "post": the photo of a post page, the same width; art direction
//     shows a 4/5 crop on phones and the whole photo from 768 px;
//   - "tile": a square of the explore and profile grids, one column of
//     three with 5 px gaps.
func newPostImage() *pictures.PictureField {
	return &pictures.PictureField{
		Name:           postImage,
		AspectRatios:   []string{"", "1/1", "4/5"},
		ContainerWidth: 935,
		GridColumns:    3,
		PixelDensities: []int{1, 2, 3},
		Layouts: map[string]pictures.Layout{
			"feed": {Columns: map[string]int{"xs": 3, "s": 2}, RatioChoices: []string{"", "4/5"}},
			"post": {Columns: map[string]int{"xs": 3, "s": 2}, Ratios: map[string]string{"xs": "4/5", "s": ""}},
			"tile": {Columns: map[string]int{"xs": 1}, Gutter: 5, Ratios: map[string]string{"xs": "1/1"}},
		},
		FileTypes: []string{"AVIF"},
		UploadTo:  "posts/%Y/%m/%d",
		MinWidth:  320, MinHeight: 320,
		MaxWidth: 8192, MaxHeight: 8192,
		// Phones store 12 or 24 megapixels by default, 48 or 50 in
		// their high-resolution modes: up to the library's default,
		// 50 megapixels (a 48 MP photo takes 19 s to process with the
		// WebAssembly encoder, 6.8 s with libavif, on 2 CPUs; its job
		// runs alone in the pixel budget).
	}
}

// newUserAvatar is the field of avatars, square and of fixed CSS widths:
// "small", 32 px (feed cards, comments, the top bar), and "large", the
// profile photo, 96 px on phones and 160 px from 768 px.
func newUserAvatar() *pictures.PictureField {
	return &pictures.PictureField{
		Name:           userAvatar,
		AspectRatios:   []string{"1/1"},
		PixelDensities: []int{1, 2, 3},
		Layouts: map[string]pictures.Layout{
			"small": {Widths: map[string]int{"xs": 32}},
			"large": {Widths: map[string]int{"xs": 96, "s": 160}},
		},
		FileTypes: []string{"AVIF"},
		UploadTo:  "avatars/%Y/%m",
		MinWidth:  150, MinHeight: 150,
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
	queue       *riverprocessor.Queue // with DatabaseURL
	working     bool                  // the queue works jobs in this process
	stopListen  context.CancelFunc
	post        *pictures.PictureField
	avatar      *pictures.PictureField
	server      *Server
	http        *http.Server
	seeded      chan struct{} // closed when the demo is seeded (or not needed)
	seedStarted bool
	seeding     atomic.Bool // seedDemo is running
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

// open opens the database and the media storage, and registers the
// picture fields with their processor: the in-process pool with SQLite,
// the River queue with PostgreSQL.
func (m *Main) open(ctx context.Context) (media http.Handler, mediaOrigin string, err error) {
	log := m.cfg.Logger
	if m.cfg.DatabaseURL != "" {
		m.db, err = openPostgres(ctx, m.cfg.DatabaseURL)
	} else {
		if err := os.MkdirAll(m.cfg.DataDir, 0o755); err != nil {
			return nil, "", err
		}
		m.db, err = openDB(ctx, filepath.Join(m.cfg.DataDir, "instagram.db"))
	}
	if err != nil {
		return nil, "", err
	}
	// Originals are kept apart from the variants, where no URL leads: they
	// may carry GPS positions, and a variant's key tells its original's.
	var store, originals pictures.Storage
	if m.cfg.S3.Bucket != "" {
		s3store, s3originals, origin, err := openS3(ctx, m.cfg.S3, log)
		if err != nil {
			return nil, "", err
		}
		store, originals, mediaOrigin = s3store, s3originals, origin
	} else {
		dir := &storage.Dir{Root: filepath.Join(m.cfg.DataDir, "media"), BaseURL: "/media/"}
		store, media = dir, dir.Handler()
		originals = &storage.Dir{Root: filepath.Join(m.cfg.DataDir, "originals")}
	}

	m.post, m.avatar = newPostImage(), newUserAvatar()
	var proc pictures.Processor
	if m.cfg.DatabaseURL != "" {
		rc := m.cfg.River
		rc.Logger = cmp.Or(rc.Logger, log)
		if rc.Workers == 0 && m.cfg.Workers > 0 {
			rc.Workers = m.cfg.Workers
		}
		if rc, err = withJobTimeout(rc, m.post, m.avatar); err != nil {
			return nil, "", err
		}
		if m.queue, err = riverprocessor.New(m.db.pg, rc); err != nil {
			return nil, "", err
		}
		m.db.queue = m.queue
		proc = m.queue
	} else {
		m.pool = processor.New(processor.Config{Workers: m.cfg.Workers, Logger: log}, pictures.Run)
		proc = m.pool
	}
	for _, f := range []*pictures.PictureField{m.post, m.avatar} {
		f.Storage, f.Originals, f.Processor, f.Logger = store, originals, proc, log
		f.OnProcessed = m.db.SavePicture
		f.MaxBytes = m.cfg.MaxUploadBytes
	}
	// Registering logs the AVIF encoder in use (system libavif or WASM).
	if err := pictures.Register(m.post, m.avatar); err != nil {
		return nil, "", err
	}
	return media, mediaOrigin, nil
}

// withJobTimeout returns rc with the app's default JobTimeout if it has
// none (see defaultJobTimeout); with a RescueAfter but no JobTimeout (a
// faster rescue asked for), the timeout is at most a minute less.
func withJobTimeout(rc riverprocessor.Config, fields ...*pictures.PictureField) (riverprocessor.Config, error) {
	if rc.JobTimeout != 0 {
		return rc, nil
	}
	d, err := defaultJobTimeout(fields...)
	if err != nil {
		return rc, err
	}
	if rc.RescueAfter > time.Minute {
		d = min(d, rc.RescueAfter-time.Minute)
	}
	rc.JobTimeout = d
	return rc, nil
}

// defaultJobTimeout is the River job timeout when -job-timeout is not
// given: twice the longest a job of the largest photo the fields admit
// may take with the slower encoder, whatever this process's (see
// pictures.PictureField.MaxJobTimeout): room for a wait in the pixel
// budget, and the same value, so the same rescue delay, in every process
// of the deployment.
// A field's configuration error is returned (Register reports it too).
func defaultJobTimeout(fields ...*pictures.PictureField) (time.Duration, error) {
	var longest time.Duration
	for _, f := range fields {
		d, err := f.MaxJobTimeout()
		if err != nil {
			return 0, err
		}
		longest = max(longest, d)
	}
	return 2 * longest, nil
}

// openS3 returns the bucket's storage of variants and of originals, and
// the origin its URLs have.
func openS3(ctx context.Context, c S3Config, log *slog.Logger) (variants, originals *s3storage.Storage, origin string, err error) {
	c.OriginalsPrefix = cmp.Or(c.OriginalsPrefix, DefaultOriginalsPrefix)
	if err := c.check(); err != nil {
		return nil, nil, "", err
	}
	awsCfg, err := awsconfig.LoadDefaultConfig(ctx, awsconfig.WithRegion(cmp.Or(c.Region, "us-east-1")))
	if err != nil {
		return nil, nil, "", fmt.Errorf("S3 configuration: %w", err)
	}
	client := s3.NewFromConfig(awsCfg, func(o *s3.Options) {
		if c.Endpoint != "" {
			o.BaseEndpoint = aws.String(c.Endpoint)
			o.UsePathStyle = true
		}
	})
	variants = &s3storage.Storage{Client: client, Bucket: c.Bucket, Prefix: c.Prefix, BaseURL: c.PublicURL}
	originals = &s3storage.Storage{Client: client, Bucket: c.Bucket, Prefix: c.OriginalsPrefix}
	u, err := url.Parse(variants.URL("x/1w.jpeg"))
	if err != nil || u.Host == "" {
		return nil, nil, "", fmt.Errorf("S3: cannot make URLs of bucket %q (endpoint %q, public URL %q)", c.Bucket, c.Endpoint, c.PublicURL)
	}
	origin = u.Scheme + "://" + u.Host
	// The example creates its bucket on first use (a real deployment's
	// bucket exists, with its own policies).
	if _, err := client.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: &c.Bucket}); err != nil {
		var notFound *s3types.NotFound
		if !errors.As(err, &notFound) {
			// Unreachable for now, say: start anyway; uploads and jobs
			// fail until it answers, and jobs are retried.
			log.Warn("instagram: cannot check the S3 bucket; starting anyway", "bucket", c.Bucket, "err", err)
			return variants, originals, origin, nil
		}
		var mine *s3types.BucketAlreadyOwnedByYou // another process was first
		if _, err := client.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: &c.Bucket}); err != nil && !errors.As(err, &mine) {
			return nil, nil, "", fmt.Errorf("creating S3 bucket %q: %w", c.Bucket, err)
		}
	}
	return variants, originals, origin, nil
}

// Run opens the database and media storage, registers the picture fields,
// starts their processing (the in-process pool with SQLite; River with
// PostgreSQL, in this process too if Work is set) and the HTTP server, and
// returns once the server listens. Seeding the demo and catching up on
// pictures whose processing was interrupted continue in the background.
func (m *Main) Run(ctx context.Context) error {
	log := m.cfg.Logger
	media, mediaOrigin, err := m.open(ctx)
	if err != nil {
		return err
	}
	db := m.db
	if db.postgres {
		// Forget cached pages when another process writes.
		listenCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
		m.stopListen = cancel
		go db.listen(listenCtx, log)
		if m.cfg.Work {
			if err := m.queue.Start(context.WithoutCancel(ctx)); err != nil {
				return err
			}
			m.working = true
		}
	}

	m.server, err = newServer(ServerConfig{
		DB: db, Post: m.post, Avatar: m.avatar,
		Media: media, MediaOrigin: mediaOrigin,
		Logger: log, BcryptCost: m.cfg.BcryptCost, CachePages: !m.cfg.NoPageCache,
		Limits: m.cfg.Limits, TrustedProxies: m.cfg.TrustedProxies,
		Seeding: m.seeding.Load,
	})
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", m.cfg.Addr)
	if err != nil {
		return err
	}
	ln = newLimitListener(ln, m.cfg.Limits.withDefaults().MaxConns)
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
		if err := encoder.Start(context.WithoutCancel(ctx)); err != nil {
			log.Warn("instagram: starting the AVIF encoder processes", "err", err)
		}
	}()

	n, err := db.CountUsers(ctx)
	if err != nil {
		return err
	}
	m.seedStarted = true
	m.seeding.Store(n == 0 && m.cfg.Demo)
	go func() {
		defer close(m.seeded)
		if n == 0 && m.cfg.Demo {
			defer m.seeding.Store(false)
			if err := seedDemo(context.WithoutCancel(ctx), m); err != nil {
				log.Error("instagram: seeding the demo", "err", err)
			}
			return
		}
		m.catchUp(context.WithoutCancel(ctx))
	}()
	return nil
}

// catchUp schedules, as backlog (after new uploads), every picture whose
// variants are not current: jobs lost when the process stopped, or a
// changed field configuration (the equivalent of django-pictures'
// migration). It reads the rows page by page (ReconcileAll): memory stays
// that of one page whatever their number. It returns how many pictures it
// scheduled.
func (m *Main) catchUp(ctx context.Context) int {
	n := 0
	for _, f := range []*pictures.PictureField{m.post, m.avatar} {
		st, err := f.ReconcileAll(ctx, m.pages(f.Name), pictures.ReconcileOptions{Schedule: true})
		n += st.Stale - st.Failed
		if err != nil {
			m.cfg.Logger.Error("instagram: scheduling the pictures not up to date", "field", f.Name, "err", err)
		}
	}
	if n > 0 {
		m.cfg.Logger.Info(fmt.Sprintf("instagram: processing %d pictures that are not up to date", n))
	}
	return n
}

// RunWorker is the worker process of a PostgreSQL deployment: it opens the
// database and storage, registers the fields as the web process does, and
// works picture jobs until Close, after scheduling (as the web process
// does at start) every picture not current for its configuration. It
// serves nothing.
func (m *Main) RunWorker(ctx context.Context) error {
	if m.cfg.DatabaseURL == "" {
		return errors.New("a worker needs the PostgreSQL database of the web process (-database or INSTAGRAM_DATABASE)")
	}
	// Each step of the start is logged with its time: a worker may take
	// tens of seconds to be ready on a busy machine (the encoders compile
	// their WebAssembly), and should not look stuck meanwhile.
	start, step := time.Now(), time.Now()
	took := func() time.Duration {
		d := time.Since(step).Round(time.Millisecond)
		step = time.Now()
		return d
	}
	log := m.cfg.Logger
	log.Info("instagram: worker starting: opening the database and storage")
	if _, _, err := m.open(ctx); err != nil {
		return err
	}
	log.Info("instagram: worker starting: database and storage open; starting the AVIF encoders", "took", took())
	if err := encoder.Start(ctx); err != nil {
		log.Warn("instagram: starting the AVIF encoder processes", "err", err)
	}
	b := encoder.Describe()
	log.Info("instagram: worker starting: encoders ready; starting the queue", "avif", b.Library, "encoder_processes", b.Processes, "took", took())
	if err := m.queue.Start(context.WithoutCancel(ctx)); err != nil {
		return err
	}
	m.working = true
	log.Info("instagram: worker starting: working jobs; scheduling the pictures not up to date", "took", took())
	n := m.catchUp(ctx) // as web processes do: a new configuration may start here
	qc := m.queue.Config()
	log.Info("instagram: worker ready", "workers", qc.Workers, "backlog_workers", qc.BacklogWorkers, "job_timeout", qc.JobTimeout, "rescue_after", qc.RescueAfter,
		"scheduled", n, "took", took(), "total", time.Since(start).Round(time.Millisecond))
	return nil
}

// fieldOf returns the field of a stored picture.
func (m *Main) fieldOf(p pictures.Picture) *pictures.PictureField {
	if p.Field == userAvatar {
		return m.avatar
	}
	return m.post
}

// Close stops the server, lets queued or running pictures finish (until
// ctx ends), and closes the database.
func (m *Main) Close(ctx context.Context) error {
	var errs []error
	if m.http != nil {
		errs = append(errs, m.http.Shutdown(ctx))
	}
	if m.pool != nil {
		// Seeding may still be adding jobs; it stops at the pool's closing.
		errs = append(errs, m.pool.Shutdown(ctx))
	}
	if m.working {
		errs = append(errs, m.queue.Stop(ctx))
	}
	if m.stopListen != nil {
		m.stopListen()
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
