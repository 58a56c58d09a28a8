// Command instagram is a small Instagram-style photo-sharing app built on
// github.com/gopictures/pictures: accounts, avatars, follows, a feed,
// explore, uploads, post pages, likes and comments, with every photo
// served as responsive AVIF.
//
//	go run ./examples/instagram [-addr 127.0.0.1:8000] [-data ./instagram-data] [-demo=true]
//
// The flags can also be set with INSTAGRAM_ADDR, INSTAGRAM_DATA and
// INSTAGRAM_DEMO. With an empty data directory it seeds a demo (users,
// follows, photographs, likes, comments) and prints a demo login.
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"
)

func main() {
	cfg, err := parseConfig(os.Args[1:], os.Getenv)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	m := NewMain(cfg)
	if err := m.Run(ctx); err != nil {
		cfg.Logger.Error("instagram: start", "err", err)
		os.Exit(1)
	}
	fmt.Printf("\n  instagram is running at %s\n\n", m.URL)
	<-ctx.Done()
	fmt.Println("\n  shutting down (waiting for pictures being processed)...")
	closeCtx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := m.Close(closeCtx); err != nil {
		cfg.Logger.Error("instagram: shutdown", "err", err)
		os.Exit(1)
	}
}

// parseConfig reads the flags, whose defaults come from the environment.
func parseConfig(args []string, getenv func(string) string) (Config, error) {
	cfg := Config{Addr: "127.0.0.1:8000", DataDir: "./instagram-data", Demo: true}
	if v := getenv("INSTAGRAM_ADDR"); v != "" {
		cfg.Addr = v
	}
	if v := getenv("INSTAGRAM_DATA"); v != "" {
		cfg.DataDir = v
	}
	if v := getenv("INSTAGRAM_DEMO"); v != "" {
		demo, err := strconv.ParseBool(v)
		if err != nil {
			return cfg, fmt.Errorf("INSTAGRAM_DEMO=%q is not true or false", v)
		}
		cfg.Demo = demo
	}
	fs := flag.NewFlagSet("instagram", flag.ContinueOnError)
	fs.StringVar(&cfg.Addr, "addr", cfg.Addr, "listen address (env INSTAGRAM_ADDR)")
	fs.StringVar(&cfg.DataDir, "data", cfg.DataDir, "directory of the SQLite file and the media (env INSTAGRAM_DATA)")
	fs.BoolVar(&cfg.Demo, "demo", cfg.Demo, "seed demo users and photos into an empty database (env INSTAGRAM_DEMO)")
	if err := fs.Parse(args); err != nil {
		return cfg, err
	}
	if fs.NArg() > 0 {
		return cfg, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	cfg.Logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	return cfg, nil
}
