package pictures_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gopictures/pictures"
	"github.com/gopictures/pictures/internal/proctest"
	"github.com/gopictures/pictures/storage"
)

// avifRefuseChildEnv makes this test binary the fresh process of
// TestSaveRefusesTruncatedAVIFWithoutDecoder.
const avifRefuseChildEnv = "PICTURES_AVIF_REFUSE_CHILD"

type avifRefuseResult struct {
	Refused, Damaged, Stored int
	Alloc                    uint64 // bytes (TotalAlloc)
	Time                     time.Duration
	ExecBefore, ExecAfter    int // anonymous executable mappings (-1: unknown)
	// The control: saving the whole photo.avif next decodes it.
	DecodeAlloc     uint64
	DecodeTime      time.Duration
	ExecAfterDecode int
	Errors          []string
}

// TestSaveRefusesTruncatedAVIFWithoutDecoder saves truncated AVIFs through
// the path an upload takes (Save: read, Inspect, Trim, size checks,
// decode), in a fresh process where no AVIF was decoded yet: photo.avif
// cut to 2 KB and to one byte short of the end of its mdat, and every AVIF
// of testdata one byte short. Each is refused as damaged, nothing is
// stored, and the whole costs at most 10 MB of allocation and maps no
// executable memory: the WebAssembly decoder (whose compilation allocates
// about 120 MB and maps its code) is never initialised. The time is
// logged. The control: saving the whole photo.avif next, in the same
// process, compiles the decoder, and the mappings show it.
func TestSaveRefusesTruncatedAVIFWithoutDecoder(t *testing.T) {
	if proctest.InChild(avifRefuseChildEnv) {
		avifRefuseChild()
		return
	}
	var res avifRefuseResult
	proctest.Run(t, "TestSaveRefusesTruncatedAVIFWithoutDecoder", avifRefuseChildEnv, &res)
	require.NotZero(t, res.Refused)
	assert.Empty(t, res.Errors)
	assert.Equal(t, res.Refused, res.Damaged, "every refusal says damaged")
	assert.Zero(t, res.Stored, "a refusal stores nothing")
	t.Logf("Save refused %d truncated AVIFs in %v, %.2f MB allocated; executable mappings %d -> %d",
		res.Refused, res.Time, float64(res.Alloc)/1e6, res.ExecBefore, res.ExecAfter)
	assert.LessOrEqual(t, res.Alloc, uint64(10<<20), "at most 10 MB")
	assert.Equal(t, res.ExecBefore, res.ExecAfter, "no decoder compiled")
	t.Logf("then Save of the whole photo.avif (the first decode): %v, %.1f MB allocated; executable mappings -> %d",
		res.DecodeTime, float64(res.DecodeAlloc)/1e6, res.ExecAfterDecode)
	if res.DecodeAlloc > 50<<20 && res.ExecBefore >= 0 {
		// wazero compiled the decoder: the observable must have seen it.
		assert.Greater(t, res.ExecAfterDecode, res.ExecAfter, "the decoder's compilation maps executable memory")
	}
}

func avifRefuseChild() {
	var res avifRefuseResult
	fail := func(err error) {
		fmt.Println("AVIFREFUSE child:", err)
		os.Exit(1)
	}
	photo, err := os.ReadFile("testdata/hostile/photo.avif")
	if err != nil {
		fail(err)
	}
	cuts := [][]byte{photo[:2048], photo[:len(photo)-1]}
	names, _ := filepath.Glob("testdata/*/*.avif")
	for _, name := range names {
		data, err := os.ReadFile(name)
		if err != nil {
			fail(err)
		}
		cuts = append(cuts, data[:len(data)-1])
	}
	store := &storage.Memory{}
	field := &pictures.PictureField{
		Name: "test.avifrefuse", FileTypes: []string{"AVIF", "JPEG"},
		Storage: store, Processor: pictures.ProcessorFunc(func(context.Context, pictures.Job) error { return nil }),
	}
	if err := pictures.Register(field); err != nil {
		fail(err)
	}
	defer pictures.Unregister(field)

	var before, after runtime.MemStats
	res.ExecBefore = proctest.ExecMappings()
	runtime.ReadMemStats(&before)
	start := time.Now()
	for i, data := range cuts {
		_, err := field.Save(context.Background(), bytes.NewReader(data), fmt.Sprintf("cut-%d.avif", i), noRow)
		if err == nil {
			res.Errors = append(res.Errors, fmt.Sprintf("cut %d saved", i))
			continue
		}
		res.Refused++
		var ue *pictures.UploadError
		if errors.Is(err, pictures.ErrDamaged) && errors.As(err, &ue) {
			res.Damaged++
		}
	}
	res.Time = time.Since(start)
	runtime.ReadMemStats(&after)
	res.Alloc = after.TotalAlloc - before.TotalAlloc
	res.ExecAfter = proctest.ExecMappings()
	res.Stored = store.Len()

	runtime.ReadMemStats(&before)
	start = time.Now()
	if _, err := field.Save(context.Background(), bytes.NewReader(photo), "photo.avif", noRow); err != nil {
		res.Errors = append(res.Errors, "photo.avif: "+err.Error())
	}
	res.DecodeTime = time.Since(start)
	runtime.ReadMemStats(&after)
	res.DecodeAlloc = after.TotalAlloc - before.TotalAlloc
	res.ExecAfterDecode = proctest.ExecMappings()
	proctest.Report(res)
}
