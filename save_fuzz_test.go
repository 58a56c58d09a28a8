package pictures_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/gopictures/pictures"
	"github.com/gopictures/pictures/pipeline"
	"github.com/gopictures/pictures/storage"
)

// FuzzSave feeds arbitrary bytes to Save: it must never panic or hang;
// a refusal must be an *UploadError and leave nothing stored; an
// acceptance must store exactly the image given (the bytes given, less what
// follows the image's end), at a plausible size.
func FuzzSave(f *testing.F) {
	files, _ := filepath.Glob("testdata/hostile/*")
	for _, name := range files {
		if data, err := os.ReadFile(name); err == nil && len(data) < 1<<20 {
			f.Add(data)
		}
	}
	store := &storage.Memory{}
	field := &pictures.PictureField{
		Name: "fuzz.save", MaxBytes: 1 << 20, MaxPixels: 4_000_000,
		Storage: store, Processor: pictures.ProcessorFunc(func(context.Context, pictures.Job) error { return nil }),
	}
	if err := pictures.Register(field); err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		ctx := context.Background()
		p, err := field.Save(ctx, bytes.NewReader(data), "upload.jpg", noRow)
		if err != nil {
			var ue *pictures.UploadError
			if !errors.As(err, &ue) {
				t.Fatalf("refusal is not an *UploadError: %v", err)
			}
			if store.Len() != 0 {
				t.Fatalf("a refusal (%v) left %d objects", err, store.Len())
			}
			return
		}
		if p.Width < 1 || p.Height < 1 || p.Width*p.Height > 4_000_000 {
			t.Fatalf("accepted a %dx%d picture", p.Width, p.Height)
		}
		r, err := store.Open(ctx, p.Key)
		if err != nil {
			t.Fatal(err)
		}
		stored, _ := io.ReadAll(r)
		info, _ := pipeline.Inspect(data)
		if !bytes.Equal(stored, pipeline.Trim(data, info.Format)) {
			t.Fatal("the stored original differs from the upload's image")
		}
		if err := field.Delete(ctx, p); err != nil {
			t.Fatal(err)
		}
		if store.Len() != 0 {
			t.Fatalf("Delete left %d objects", store.Len())
		}
	})
}
