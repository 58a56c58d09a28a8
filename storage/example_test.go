package storage_test

import (
	"context"
	"fmt"
	"log"
	"net/http/httptest"
	"os"
	"strings"

	"github.com/gopictures/pictures/storage"
)

// A Dir stores files below its root and serves the variants among them,
// never the originals.
func ExampleDir() {
	root, err := os.MkdirTemp("", "media")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(root)
	dir := &storage.Dir{Root: root, BaseURL: "/media/"}

	ctx := context.Background()
	for _, key := range []string{"posts/abc.jpeg", "posts/abc/1_1/320w.avif"} {
		if err := dir.Put(ctx, key, strings.NewReader("bytes of "+key)); err != nil {
			log.Fatal(err)
		}
	}
	keys, err := dir.List(ctx, "posts/")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(keys)

	h := dir.Handler()
	for _, key := range keys {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest("GET", dir.URL(key), nil))
		fmt.Printf("%s %d %q\n", dir.URL(key), w.Code, w.Header().Get("Cache-Control"))
	}
	// Output:
	// [posts/abc.jpeg posts/abc/1_1/320w.avif]
	// /media/posts/abc.jpeg 404 ""
	// /media/posts/abc/1_1/320w.avif 200 "public, max-age=31536000, immutable"
}

// Memory is a Storage for tests: its zero value is ready to use.
func ExampleMemory() {
	var m storage.Memory
	ctx := context.Background()
	if err := m.Put(ctx, "posts/abc.jpeg", strings.NewReader("original")); err != nil {
		log.Fatal(err)
	}
	fmt.Println(m.Len(), m.URL("posts/abc.jpeg"))
	_, err := m.Open(ctx, "posts/missing.jpeg")
	fmt.Println(err)
	// Output:
	// 1 /media/posts/abc.jpeg
	// open posts/missing.jpeg: file does not exist
}
