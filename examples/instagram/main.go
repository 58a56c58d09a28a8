// Command instagram is a small Instagram-style photo-sharing app built on
// github.com/gopictures/pictures: accounts, avatars, follows, a feed,
// explore, uploads, post pages, likes and comments, with every photo
// served as responsive AVIF.
//
//	go run ./examples/instagram [flags]          # the web app
//	go run ./examples/instagram worker [flags]   # a picture worker (PostgreSQL deployments)
//	go run ./examples/instagram reconcile [-dry-run] [flags]   # bring pictures in line with the fields
//	go run ./examples/instagram sweep [-dry-run] [flags]       # delete files no row refers to
//
// On its defaults it keeps everything in one directory (-data: an SQLite
// file and the media) and processes pictures in the web process. With
// -database postgres://... its data goes to PostgreSQL and pictures are
// processed by worker processes through River; with -s3-bucket media go
// to an S3-compatible bucket. Every flag can also be set by an
// environment variable, INSTAGRAM_ and the flag's name in capitals with
// underscores (INSTAGRAM_DATABASE, INSTAGRAM_S3_BUCKET...). With an empty
// database the web app seeds a demo (users, follows, photographs, likes,
// comments) and prints a demo login, with a random password (-demo-password
// sets it). Behind a reverse proxy, -trusted-proxies names it: its
// forwarded headers then give the client's address and scheme.
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/gopictures/pictures/encoder"
)

func main() {
	// First: in a copy of this binary started as an AVIF encoder process,
	// Init serves encodes and never returns.
	encoder.Init()
	args := os.Args[1:]
	if len(args) > 0 && isCommand(args[0]) { // reconcile, sweep: commands.go
		os.Exit(runCommand(args[0], args[1:], os.Getenv, os.Stdout))
	}
	worker := len(args) > 0 && args[0] == "worker"
	if worker {
		args = args[1:]
	}
	cfg, err := parseConfig(args, os.Getenv)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	m := NewMain(cfg)
	if worker {
		err = m.RunWorker(ctx)
	} else {
		err = m.Run(ctx)
	}
	if err != nil {
		cfg.Logger.Error("instagram: start", "err", err)
		os.Exit(1)
	}
	if !worker {
		fmt.Printf("\n  instagram is running at %s\n\n", m.URL)
	}
	<-ctx.Done()
	fmt.Println("\n  shutting down (waiting for pictures being processed)...")
	closeCtx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := m.Close(closeCtx); err != nil {
		cfg.Logger.Error("instagram: shutdown", "err", err)
		os.Exit(1)
	}
	encoder.Stop()
}

// jobTimeoutUsage documents -job-timeout with its default for the app's
// fields (a configuration error is reported when the fields are
// registered, not here).
func jobTimeoutUsage() string {
	def := "twice the timeout of the largest photo"
	if d, err := defaultJobTimeout(newPostImage(), newUserAvatar()); err == nil {
		def = fmt.Sprintf("%v: %s", d, def)
	}
	return "with -database, the longest an attempt at a picture's job may take (default " + def + "; a job's processing is also bounded by ten times its own estimate, at least 2m)"
}

// parseConfig reads the flags, whose defaults come from the environment:
// INSTAGRAM_ followed by the flag's name in capitals, dashes as
// underscores. extra adds the flags of a command (commands.go), which the
// environment does not set.
func parseConfig(args []string, getenv func(string) string, extra ...func(*flag.FlagSet)) (Config, error) {
	cfg := Config{Addr: "127.0.0.1:8000", DataDir: "./instagram-data", Demo: true}
	fs := flag.NewFlagSet("instagram", flag.ContinueOnError)
	fs.StringVar(&cfg.Addr, "addr", cfg.Addr, "listen address")
	fs.StringVar(&cfg.DataDir, "data", cfg.DataDir, "directory of the SQLite file and the media (when not in PostgreSQL and S3)")
	fs.BoolVar(&cfg.Demo, "demo", cfg.Demo, "seed demo users and photos into an empty database")
	fs.StringVar(&cfg.DemoPassword, "demo-password", "", "password of the demo users (default: a random one, printed once when the demo is seeded)")
	fs.Var(prefixList{&cfg.TrustedProxies}, "trusted-proxies", "comma-separated addresses or networks of the reverse proxies in front of the app, such as 127.0.0.1/32: their Forwarded or X-Forwarded-For and X-Forwarded-Proto headers are believed (client address for throttling, HTTPS for Secure cookies)")
	fs.StringVar(&cfg.DatabaseURL, "database", "", "PostgreSQL URL (postgres://user:pass@host:5432/db): data in PostgreSQL, pictures processed by workers")
	fs.BoolVar(&cfg.Work, "work", false, "with -database, also process pictures in this web process")
	fs.IntVar(&cfg.Workers, "workers", 0, "pictures processed at once by this process (default: the number of CPUs; with -database, half of them, at least 1, and as many backlog jobs beside them)")
	fs.StringVar(&cfg.River.ID, "worker-id", "", "with -database, this process's name in River's job table (default: host name and start time)")
	fs.DurationVar(&cfg.River.JobTimeout, "job-timeout", 0, jobTimeoutUsage())
	fs.DurationVar(&cfg.River.RescueAfter, "rescue-after", 0, "with -database, when a job still running is taken as abandoned by a dead worker and retried (default: job-timeout + 1m; given alone, the job timeout becomes at most this minus 1m)")
	fs.DurationVar(&cfg.River.Backoff, "retry-backoff", 0, "with -database, the wait before a failed job's first retry, doubling after (default 5s)")
	fs.StringVar(&cfg.S3.Bucket, "s3-bucket", "", "store media in this S3 bucket (credentials from AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY)")
	fs.StringVar(&cfg.S3.Endpoint, "s3-endpoint", "", "URL of an S3-compatible server (path-style), such as http://127.0.0.1:7070")
	fs.StringVar(&cfg.S3.Region, "s3-region", "us-east-1", "the bucket's region")
	fs.StringVar(&cfg.S3.Prefix, "s3-prefix", "", "prefix of the variants' keys in the bucket, such as media/")
	fs.StringVar(&cfg.S3.PublicURL, "s3-public-url", "", "public URL of the bucket's objects under the prefix (default: presigned URLs)")
	fs.StringVar(&cfg.S3.OriginalsPrefix, "s3-originals-prefix", DefaultOriginalsPrefix, "prefix of the originals' keys in the bucket, which no URL leads to (outside -s3-prefix)")
	var envErr error
	fs.VisitAll(func(f *flag.Flag) {
		name := "INSTAGRAM_" + strings.ToUpper(strings.ReplaceAll(f.Name, "-", "_"))
		if v := getenv(name); v != "" {
			if err := f.Value.Set(v); err != nil && envErr == nil {
				envErr = fmt.Errorf("%s=%q: %v", name, v, err)
			}
		}
	})
	if envErr != nil {
		return cfg, envErr
	}
	for _, e := range extra {
		e(fs)
	}
	if err := fs.Parse(args); err != nil {
		return cfg, err
	}
	if fs.NArg() > 0 {
		return cfg, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	cfg.Logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	return cfg, nil
}
