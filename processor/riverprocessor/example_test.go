package riverprocessor_test

import (
	"context"
	"log"
	"os"
	"os/signal"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/gopictures/pictures"
	"github.com/gopictures/pictures/processor/riverprocessor"
)

// A web process saves a row and its picture's job in one transaction; a
// worker process (the same binary, with the same fields registered) works
// the jobs. (This example needs PostgreSQL, so it is compiled but not run;
// the package's tests run against a throwaway cluster.)
func ExampleQueue() {
	ctx := context.Background()
	pool, err := pgxpool.New(ctx, os.Getenv("DATABASE_URL"))
	if err != nil {
		log.Fatal(err)
	}
	defer pool.Close()
	if err := riverprocessor.Migrate(ctx, pool); err != nil { // once per deploy
		log.Fatal(err)
	}
	field := &pictures.PictureField{Name: "post.image"}
	// An attempt may take twice the timeout of the largest picture the
	// field admits (room for a wait in the pixel budget).
	longest, err := field.MaxJobTimeout()
	if err != nil {
		log.Fatal(err)
	}
	q, err := riverprocessor.New(pool, riverprocessor.Config{
		MaxAttempts: 5,
		Backoff:     5 * time.Second,
		JobTimeout:  2 * longest,
	})
	if err != nil {
		log.Fatal(err)
	}
	field.Processor = q
	pictures.MustRegister(field)

	if len(os.Args) > 1 && os.Args[1] == "worker" {
		ctx, stop := signal.NotifyContext(ctx, os.Interrupt)
		defer stop()
		if err := q.Start(ctx); err != nil {
			log.Fatal(err)
		}
		<-ctx.Done()
		stopCtx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := q.Stop(stopCtx); err != nil {
			log.Print(err)
		}
		return
	}

	// In the web process's upload handler:
	p, err := field.Upload(ctx, strings.NewReader("…the uploaded file…"), "photo.jpeg")
	if err != nil {
		log.Fatal(err)
	}
	err = pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `INSERT INTO posts (image) VALUES ($1)`, p); err != nil {
			return err
		}
		return q.EnqueueTx(ctx, tx, pictures.Job{Picture: p})
	})
	if err != nil {
		log.Fatal(err)
	}
}
