package pictures

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The example app's layouts (examples/instagram declares the same).
var (
	appPostLayouts = map[string]Layout{
		"feed": {Columns: map[string]int{"xs": 3, "s": 2}, RatioChoices: []string{"", "4/5"}},
		"post": {Columns: map[string]int{"xs": 3, "s": 2}, Ratios: map[string]string{"xs": "4/5", "s": ""}},
		"tile": {Columns: map[string]int{"xs": 1}, Gutter: 5, Ratios: map[string]string{"xs": "1/1"}},
	}
	appAvatarLayouts = map[string]Layout{
		"small": {Widths: map[string]int{"xs": 32}},
		"large": {Widths: map[string]int{"xs": 96, "s": 160}},
	}
)

// simulationDPRs are the device pixel ratios the simulation checks: the
// common fractional ones among them.
var simulationDPRs = []float64{1, 1.25, 1.5, 2, 2.625, 3}

// evalSizes evaluates a `sizes` value at viewport width v as a browser
// does: the first entry whose media condition matches. It understands what
// this package writes: "(max-width: Npx) ", "auto, ", px, vw and
// calc(Avw ± Bpx).
func evalSizes(t testing.TB, sizes string, v float64) float64 {
	t.Helper()
	sizes = strings.TrimPrefix(sizes, "auto, ")
	for _, entry := range strings.Split(sizes, ", ") {
		if rest, ok := strings.CutPrefix(entry, "(max-width: "); ok {
			cond, expr, ok := strings.Cut(rest, "px) ")
			require.True(t, ok, "entry %q", entry)
			limit, err := strconv.ParseFloat(cond, 64)
			require.NoError(t, err)
			if v > limit {
				continue
			}
			entry = expr
		} else if rest, ok := strings.CutPrefix(entry, "(min-width: "); ok {
			// django-pictures' "(min-width: Apx) and (max-width: Bpx) X".
			los, rest, ok1 := strings.Cut(rest, "px) and (max-width: ")
			his, expr, ok2 := strings.Cut(rest, "px) ")
			require.True(t, ok1 && ok2, "entry %q", entry)
			lo, err1 := strconv.ParseFloat(los, 64)
			hi, err2 := strconv.ParseFloat(his, 64)
			require.NoError(t, errors.Join(err1, err2), entry)
			if v < lo || v > hi {
				continue
			}
			entry = expr
		}
		return evalLength(t, entry, v)
	}
	t.Fatalf("no entry of %q matches %g", sizes, v)
	return 0
}

func evalLength(t testing.TB, s string, v float64) float64 {
	t.Helper()
	num := func(s string) float64 {
		x, err := strconv.ParseFloat(s, 64)
		require.NoError(t, err, s)
		return x
	}
	switch {
	case strings.HasPrefix(s, "calc("):
		f := strings.Fields(strings.TrimSuffix(strings.TrimPrefix(s, "calc("), ")"))
		require.Len(t, f, 3, s)
		x := evalLength(t, f[0], v)
		y := evalLength(t, f[2], v)
		if f[1] == "-" {
			return x - y
		}
		return x + y
	case strings.HasSuffix(s, "vw"):
		return num(strings.TrimSuffix(s, "vw")) * v / 100
	case strings.HasSuffix(s, "px"):
		return num(strings.TrimSuffix(s, "px"))
	}
	t.Fatalf("cannot evaluate %q", s)
	return 0
}

// painted is an independent model of a Layout: the CSS width of the
// picture at viewport width v, and the ratio shown ("" where the call's).
func painted(l Layout, bps []Breakpoint, grid, fieldContainer int, v float64) (float64, string, bool) {
	kind, n := 'c', float64(grid)
	ratio, hasRatio := "", false
	for i, bp := range bps {
		if i > 0 && v < float64(bp.Width) {
			break
		}
		if x, ok := l.Columns[bp.Name]; ok {
			kind, n = 'c', float64(x)
		}
		if x, ok := l.Widths[bp.Name]; ok {
			kind, n = 'w', float64(x)
		}
		if x, ok := l.Viewport[bp.Name]; ok {
			kind, n = 'v', float64(x)
		}
		if r, ok := l.Ratios[bp.Name]; ok {
			ratio, hasRatio = r, true
		}
	}
	switch kind {
	case 'w':
		return n, ratio, hasRatio
	case 'v':
		return v * n / 100, ratio, hasRatio
	}
	container := l.Container
	if container == 0 {
		container = fieldContainer
	}
	content := v - 2*float64(l.Padding)
	if container != Fluid {
		content = min(content, float64(container))
	}
	g, gut := float64(grid), float64(l.Gutter)
	return (content-(g-1)*gut)*n/g + (n-1)*gut, ratio, hasRatio
}

// checkLadder simulates every integer viewport from 320 to 2560 px at each
// of simulationDPRs, as a browser selects: the narrowest candidate at
// least the needed width. Every picture must be crisp and within MaxWaste
// where the source is large enough, and get the source's full crop where it
// is not.
func checkLadder(t *testing.T, f *PictureField, width, height int) (checks int) {
	t.Helper()
	c, err := f.config()
	require.NoError(t, err)
	waste := c.maxWaste
	ladders := map[string][]int{}
	for _, r := range c.ratios {
		ws, err := f.Widths(width, height, r.String())
		require.NoError(t, err)
		ladders[r.String()] = ws
	}
	for _, name := range c.layoutNames {
		l := f.Layouts[name]
		sizes, err := f.LayoutSizes(name)
		require.NoError(t, err)
		for v := 320; v <= 2560; v++ {
			want, ratio, hasRatio := painted(l, c.breakpoints, c.grid, c.container, float64(v))
			got := evalSizes(t, sizes, float64(v))
			if math.Abs(got-want) > 0.02 {
				t.Fatalf("layout %q at %d px: sizes %q gives %.3f px, the layout paints %.3f", name, v, sizes, got, want)
			}
			ratios := []string{ratio}
			if !hasRatio {
				ratios = l.RatioChoices
				if len(ratios) == 0 {
					ratios = f.AspectRatios
				}
				if len(ratios) == 0 {
					ratios = []string{""}
				}
			}
			for _, ratio := range ratios {
				r, err := ParseRatio(ratio)
				require.NoError(t, err)
				ws := ladders[r.String()]
				require.NotEmpty(t, ws, "layout %q ratio %q", name, ratio)
				cropW, _ := r.CropSize(width, height)
				for _, dpr := range simulationDPRs {
					if dpr > float64(c.maxDensity) {
						break // the field serves no such screens
					}
					need := got * dpr
					i, _ := slices.BinarySearchFunc(ws, need, func(w int, n float64) int { return cmpFloat(float64(w), n) })
					checks++
					if i == len(ws) {
						if ws[len(ws)-1] != cropW {
							t.Fatalf("layout %q ratio %q at %d px @%g needs %.1f px: the widest of %v is not the source's full %d", name, ratio, v, dpr, need, ws, cropW)
						}
						continue
					}
					if float64(ws[i]) > need*waste+1e-6 {
						t.Fatalf("layout %q ratio %q at %d px @%g needs %.1f px and gets %d (%.3fx, max %g) from %v", name, ratio, v, dpr, need, ws[i], float64(ws[i])/need, waste, ws)
					}
				}
			}
		}
	}
	return checks
}

func TestLayoutLadderApp(t *testing.T) {
	post := &PictureField{
		AspectRatios: []string{"", "1/1", "4/5"}, ContainerWidth: 935, GridColumns: 3,
		PixelDensities: []int{1, 2, 3}, Layouts: appPostLayouts,
	}
	avatar := &PictureField{
		AspectRatios: []string{"1/1"}, PixelDensities: []int{1, 2, 3}, Layouts: appAvatarLayouts,
	}
	n := 0
	for _, size := range [][2]int{{4032, 3024}, {3024, 4032}, {8000, 8000}, {1080, 1350}, {640, 480}} {
		n += checkLadder(t, post, size[0], size[1])
		n += checkLadder(t, avatar, size[0], size[1])
	}
	t.Logf("%d selections checked", n)

	// What the field stores: squares only at tile sizes, no 2805 px one.
	ws, err := post.Widths(4032, 3024, "1/1")
	require.NoError(t, err)
	assert.Less(t, ws[len(ws)-1], 1100, "squares are only ever tiles: %v", ws)
	ws, err = avatar.Widths(4032, 3024, "1/1")
	require.NoError(t, err)
	assert.Equal(t, 480, ws[len(ws)-1], "a 160 px avatar at 3x: %v", ws)
	assert.True(t, ws[0] >= 32 && ws[0] <= 38, "a 32 px avatar at 1x: %v", ws)
	for _, w := range ws {
		assert.False(t, w > 115 && w < 133, "no avatar width between 96x1.2 and 160/1.2: %v", ws)
	}
}

func TestLayoutLadderRandom(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	n := 0
	for i := range 80 {
		f := randomLayoutField(rng)
		f.Name = fmt.Sprintf("random-%d", i)
		if err := f.Validate(); err != nil {
			t.Fatalf("layout %d: %v", i, err)
		}
		n += checkLadder(t, f, 6000, 6000)
		if i%10 == 0 {
			n += checkLadder(t, f, 1000+rng.IntN(2000), 800+rng.IntN(2000))
		}
	}
	t.Logf("%d selections checked", n)
}

func randomLayoutField(rng *rand.Rand) *PictureField {
	grid := 1 + rng.IntN(12)
	f := &PictureField{
		GridColumns:    grid,
		ContainerWidth: []int{Fluid, 600, 935, 1140, 1320, 1600}[rng.IntN(6)],
		PixelDensities: []int{1, 2, 3}[:1+rng.IntN(3)],
		AspectRatios:   []string{"", "1/1", "16/9"},
		MaxWaste:       []float64{0, 1.1, 1.2, 1.5}[rng.IntN(4)],
		Layouts:        map[string]Layout{},
	}
	for k := range 1 + rng.IntN(3) {
		l := Layout{Columns: map[string]int{}, Widths: map[string]int{}, Viewport: map[string]int{}, Ratios: map[string]string{}}
		if grid > 1 {
			l.Gutter = rng.IntN(4) * 8
		}
		l.Padding = rng.IntN(3) * 12
		for _, bp := range DefaultBreakpoints {
			switch rng.IntN(5) {
			case 0:
				l.Columns[bp.Name] = 1 + rng.IntN(grid)
			case 1:
				l.Widths[bp.Name] = 24 + rng.IntN(600)
			case 2:
				l.Viewport[bp.Name] = 10 + rng.IntN(91)
			}
			if rng.IntN(4) == 0 {
				l.Ratios[bp.Name] = f.AspectRatios[rng.IntN(3)]
			}
		}
		f.Layouts[fmt.Sprintf("l%d", k)] = l
	}
	// Every ratio must be shown by some layout.
	f.Layouts["any"] = Layout{Columns: map[string]int{"xs": grid}}
	return f
}

func TestLayoutErrors(t *testing.T) {
	tests := []struct {
		name  string
		field PictureField
		want  string
	}{
		{"unknown breakpoint", PictureField{Layouts: map[string]Layout{"a": {Columns: map[string]int{"huge": 1}}}},
			`layout "a": Columns names breakpoint "huge" (valid: xs, s, m, l, xl)`},
		{"two kinds at one breakpoint", PictureField{Layouts: map[string]Layout{"a": {Columns: map[string]int{"s": 1}, Widths: map[string]int{"s": 100}}}},
			`breakpoint "s" sets more than one of Columns, Widths and Viewport`},
		{"undeclared ratio", PictureField{Layouts: map[string]Layout{"a": {Ratios: map[string]string{"xs": "1/1"}}}},
			`ratio "1/1" at "xs" is not one of the field's AspectRatios`},
		{"unused ratio", PictureField{AspectRatios: []string{"", "1/1"}, Layouts: map[string]Layout{"a": {Ratios: map[string]string{"xs": ""}}}},
			`aspect ratio "1/1" is shown by no layout`},
		{"nothing painted", PictureField{Layouts: map[string]Layout{"a": {Columns: map[string]int{"xs": 1}, Gutter: 200}}},
			`the picture is`},
		{"columns out of range", PictureField{GridColumns: 3, Layouts: map[string]Layout{"a": {Columns: map[string]int{"xs": 4}}}},
			`columns at "xs" must be between 1 and 3, got 4`},
		{"bad waste", PictureField{MaxWaste: 1.01, Layouts: map[string]Layout{"a": {}}},
			`max waste 1.01 is not between 1.05 and 4`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.field.Validate()
			require.ErrorIs(t, err, ErrInvalidConfig)
			assert.Contains(t, err.Error(), tt.want)
		})
	}
}

func TestLayoutSizes(t *testing.T) {
	f := &PictureField{AspectRatios: []string{"", "1/1", "4/5"}, ContainerWidth: 935, GridColumns: 3, PixelDensities: []int{1, 2, 3}, Layouts: appPostLayouts}
	for name, want := range map[string]string{
		"feed": "(max-width: 767.98px) 100vw, (max-width: 934.98px) 66.6667vw, 623.33px",
		"tile": "(max-width: 934.98px) calc(33.3333vw - 3.33px), 308.33px",
	} {
		got, err := f.LayoutSizes(name)
		require.NoError(t, err)
		assert.Equal(t, want, got, name)
	}
	_, err := f.LayoutSizes("hero")
	assert.ErrorIs(t, err, ErrUnknownLayout)
	assert.ErrorContains(t, err, `"hero" (valid: feed, post, tile)`)

	a := &PictureField{AspectRatios: []string{"1/1"}, Layouts: appAvatarLayouts}
	got, err := a.LayoutSizes("large")
	require.NoError(t, err)
	assert.Equal(t, "(max-width: 767.98px) 96px, 160px", got)
}
