package main

import (
	"cmp"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"

	"github.com/gopictures/pictures"
	"github.com/gopictures/pictures/encoder"
)

// The commands of the app besides serving, run once from a shell or a
// deploy script, with the app's own flags for where the data is:
//
//	instagram reconcile [-dry-run] [-inline] [-wait=false] [flags]
//	instagram sweep [-dry-run] [-grace 24h] [-v] [flags]
//
// reconcile brings every stored picture in line with the fields'
// configuration (run it once after changing one, as django-pictures
// users run AlterPictureField in a migration); sweep deletes the files
// no row refers to. See the README's "When you outgrow one machine".

// isCommand reports whether name is one of the commands runCommand runs.
func isCommand(name string) bool { return name == "reconcile" || name == "sweep" }

// commandFlags are the flags of reconcile and sweep, besides the app's.
type commandFlags struct {
	dryRun  bool
	inline  bool
	wait    bool
	grace   time.Duration
	verbose bool
}

// runCommand runs the command name with args (the app's flags and the
// command's) and returns the exit status: 0, 1 if it failed, 2 for bad
// flags. Counts and progress go to stdout, logs to stderr; the progress
// bar is drawn only when stdout is a terminal.
func runCommand(name string, args []string, getenv func(string) string, stdout io.Writer) int {
	var cf commandFlags
	cfg, err := parseConfig(args, getenv, func(fs *flag.FlagSet) {
		fs.BoolVar(&cf.dryRun, "dry-run", false, "count what would change, change nothing")
		switch name {
		case "reconcile":
			fs.BoolVar(&cf.inline, "inline", false, "with -database, process the pictures in this process instead of enqueuing them for the workers")
			fs.BoolVar(&cf.wait, "wait", true, "with -database, after enqueuing, show the workers' progress until every picture is current")
		case "sweep":
			fs.DurationVar(&cf.grace, "grace", pictures.DefaultSweepGrace, "keep the files written less than this long ago, whatever refers to them")
			fs.BoolVar(&cf.verbose, "v", false, "print each file deleted (or, with -dry-run, to delete)")
		}
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	m := NewMain(cfg)
	if _, _, err := m.open(ctx); err != nil {
		cfg.Logger.Error("instagram: "+name, "err", err)
		return 1
	}
	switch name {
	case "reconcile":
		err = m.reconcile(ctx, cf, stdout)
	case "sweep":
		err = m.sweep(ctx, cf, stdout)
	default:
		err = fmt.Errorf("unknown command %q", name)
	}
	closeCtx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	err = errors.Join(err, m.Close(closeCtx))
	encoder.Stop()
	if err != nil {
		if ctx.Err() != nil {
			fmt.Fprintln(stdout, "interrupted: run the command again to go on where it stopped")
		}
		cfg.Logger.Error("instagram: "+name, "err", err)
		return 1
	}
	return 0
}

// fields returns the app's picture fields, registered by open.
func (m *Main) fields() []*pictures.PictureField { return []*pictures.PictureField{m.post, m.avatar} }

// pages returns the PageFunc of field's rows.
func (m *Main) pages(field string) pictures.PageFunc {
	return func(ctx context.Context, after string, limit int) ([]pictures.Picture, error) {
		return m.db.PicturePage(ctx, field, after, limit)
	}
}

// reconcile counts what each field's pictures need (what -dry-run
// prints), then, unless dry, processes them: in this process with SQLite
// or -inline, else by enqueuing their jobs for the workers (and, with
// -wait, following them until every picture is current). Interrupted, it
// resumes when run again: current pictures cost nothing.
func (m *Main) reconcile(ctx context.Context, cf commandFlags, stdout io.Writer) error {
	plans := map[string]pictures.ReconcileStats{}
	stale := 0
	for _, f := range m.fields() {
		st, err := f.ReconcileAll(ctx, m.pages(f.Name), pictures.ReconcileOptions{DryRun: true})
		if err != nil {
			return err
		}
		plans[f.Name] = st
		stale += st.Stale
		printPlan(stdout, f.Name, st)
	}
	if cf.dryRun || stale == 0 {
		if stale == 0 {
			fmt.Fprintln(stdout, "every picture is current: nothing to do")
		}
		return nil
	}
	enqueue := m.db.EnqueuesJobs() && !cf.inline
	verb := "processing"
	if enqueue {
		verb = "enqueuing"
	}
	bar := newBar(stdout, stale, verb)
	start := time.Now()
	var done int
	var errs []error
	for _, f := range m.fields() {
		if plans[f.Name].Stale == 0 {
			continue
		}
		base := done
		st, err := f.ReconcileAll(ctx, m.pages(f.Name), pictures.ReconcileOptions{
			Schedule: enqueue,
			Stats:    func(st pictures.ReconcileStats) { bar.Set(base + st.Stale) },
		})
		done += st.Stale
		if err != nil {
			errs = append(errs, err)
			if ctx.Err() != nil {
				break
			}
		}
	}
	bar.Finish()
	fmt.Fprintf(stdout, "%s %d pictures took %v\n", verb, done, time.Since(start).Round(time.Millisecond))
	if err := errors.Join(errs...); err != nil || !enqueue || !cf.wait {
		return err
	}
	return m.waitCurrent(ctx, stdout, stale)
}

// waitCurrent shows the workers' progress on the pictures enqueued, until
// none is stale, counting them again every two seconds (or twice the time
// a count takes, with many rows). It gives up when
// the count has not moved for ten minutes (a worker down, jobs failing:
// their logs tell).
func (m *Main) waitCurrent(ctx context.Context, stdout io.Writer, total int) error {
	bar := newBar(stdout, total, "workers")
	defer bar.Finish()
	start, moved, last := time.Now(), time.Now(), total
	for {
		pass := time.Now()
		left := 0
		for _, f := range m.fields() {
			st, err := f.ReconcileAll(ctx, m.pages(f.Name), pictures.ReconcileOptions{DryRun: true})
			if err != nil {
				return err
			}
			left += st.Stale
		}
		bar.Set(max(total-left, 0))
		if left == 0 {
			bar.Finish()
			fmt.Fprintf(stdout, "every picture is current (the workers took %v)\n", time.Since(start).Round(time.Second))
			return nil
		}
		if left != last {
			moved, last = time.Now(), left
		} else if time.Since(moved) > 10*time.Minute {
			return fmt.Errorf("%d pictures are still not current after 10 minutes without progress: see the workers' logs, and run reconcile again", left)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(max(2*time.Second, 2*time.Since(pass))): // reading every row costs too
		}
	}
}

// printPlan prints what reconciling field's pictures involves.
func printPlan(w io.Writer, field string, st pictures.ReconcileStats) {
	fmt.Fprintf(w, "%s: %d pictures, %d current, %d to process\n", field, st.Pictures, st.Current, st.Stale)
	if st.Stale > 0 {
		fmt.Fprintf(w, "  variants to add: %d (%.1f megapixels, about %s), to delete: %d (about %s)\n",
			st.Added, float64(st.AddedPixels)/1e6, bytesOf(st.AddedBytes), st.Deleted, bytesOf(st.DeletedBytes))
		fmt.Fprintf(w, "  processing: about %v on one worker of 2 CPUs with the %s AVIF encoder, one job at a time (pictures' estimate)\n", st.EncodeTime.Round(time.Second), encoder.Describe().Library)
	}
}

// bytesOf formats a byte count: "3.2 MB".
func bytesOf(n int64) string {
	switch {
	case n >= 1e9:
		return fmt.Sprintf("%.1f GB", float64(n)/1e9)
	case n >= 1e6:
		return fmt.Sprintf("%.1f MB", float64(n)/1e6)
	case n >= 1e3:
		return fmt.Sprintf("%.1f kB", float64(n)/1e3)
	}
	return fmt.Sprintf("%d bytes", n)
}

// newBar returns a progress bar of n pictures with their rate and the
// time left, drawn on w if it is a terminal, and invisible otherwise.
func newBar(w io.Writer, n int, what string) *progressbar.ProgressBar {
	f, ok := w.(*os.File)
	visible := ok && term.IsTerminal(int(f.Fd()))
	return progressbar.NewOptions(n,
		progressbar.OptionSetWriter(w),
		progressbar.OptionSetVisibility(visible),
		progressbar.OptionSetDescription(what),
		progressbar.OptionShowCount(),
		progressbar.OptionShowIts(),
		progressbar.OptionSetItsString("pictures"),
		progressbar.OptionSetPredictTime(true),
		progressbar.OptionThrottle(100*time.Millisecond),
		progressbar.OptionOnCompletion(func() { fmt.Fprintln(w) }),
	)
}

// sweep deletes, field by field, the files of the media storage that no
// row refers to and that are older than -grace (see pictures.Sweep).
func (m *Main) sweep(ctx context.Context, cf commandFlags, stdout io.Writer) error {
	verb := "deleted"
	if cf.dryRun {
		verb = "to delete"
	}
	for _, f := range m.fields() {
		start := time.Now()
		opts := pictures.SweepOptions{Recorded: m.db.RecordedPictures, Grace: cf.grace, DryRun: cf.dryRun}
		if cf.verbose {
			report := func(store string) func(string, int64, time.Time) {
				return func(name string, size int64, mod time.Time) {
					fmt.Fprintf(stdout, "  %s %s%s (%s, written %s)\n", verb, store, name, bytesOf(max(size, 0)), mod.UTC().Format(time.RFC3339))
				}
			}
			opts.OnDelete, opts.OnDeleteOriginal = report(m.mediaStoreName()), report(m.originalsStoreName())
		}
		st, err := f.Sweep(ctx, opts)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "%s: %d files, %d recorded, %d younger than %v kept; %s: %d (%s) and %d temporary files (%d in progress kept); took %v\n",
			f.Name, st.Listed, st.Referenced, st.Young, cf.grace, verb, st.Deleted, bytesOf(st.Bytes), st.Temp, st.TempYoung, time.Since(start).Round(time.Millisecond))
	}
	return nil
}

// mediaStoreName and originalsStoreName say where a swept file was, for
// -v: the S3 prefix (the sweep's names are relative to it), or the data
// directory's folder.
func (m *Main) mediaStoreName() string {
	if m.cfg.S3.Bucket != "" {
		return m.cfg.S3.Prefix
	}
	return "media/"
}

func (m *Main) originalsStoreName() string {
	if m.cfg.S3.Bucket != "" {
		return cmp.Or(m.cfg.S3.OriginalsPrefix, DefaultOriginalsPrefix)
	}
	return "originals/"
}
