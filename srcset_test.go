package pictures

import (
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func steps(from, to, step int) []int {
	var out []int
	for w := from; w <= to; w += step {
		out = append(out, w)
	}
	return out
}

func TestWidths(t *testing.T) {
	tests := []struct {
		name          string
		field         PictureField
		width, height int
		ratio         string
		want          []int
	}{
		// The vectors of django-pictures.
		{
			name:  "reference 800x600 3/2",
			field: PictureField{AspectRatios: []string{"3/2"}},
			width: 800, height: 600, ratio: "3/2",
			want: steps(100, 800, 100),
		},
		{
			name:  "reference 800x600 1/1",
			field: PictureField{AspectRatios: []string{"1/1"}},
			width: 800, height: 600, ratio: "1/1",
			want: steps(100, 600, 100),
		},
		{
			name:  "reference 6000x4000 1/1 six columns",
			field: PictureField{AspectRatios: []string{"1/1"}, GridColumns: 6},
			width: 6000, height: 4000, ratio: "1/1",
			want: []int{200, 400, 600, 800, 1000, 1200, 1600, 2000, 2400},
		},
		{
			name:  "reference 3000x2000 original ratio",
			field: PictureField{},
			width: 3000, height: 2000, ratio: "",
			want: append(steps(100, 1200, 100), steps(1400, 2400, 200)...),
		},
		{
			name:  "reference container 1000 big source",
			field: PictureField{ContainerWidth: 1000},
			width: 10000, height: 10000, ratio: "",
			want: []int{83, 166, 250, 333, 416, 500, 583, 666, 750, 833, 916, 1000, 1166, 1333, 1500, 1666, 1833, 2000},
		},
		// Our own.
		{
			name:  "densities are per field",
			field: PictureField{AspectRatios: []string{"1/1"}, ContainerWidth: 935, GridColumns: 3, PixelDensities: []int{1, 2, 3}},
			width: 4000, height: 3000, ratio: "1/1",
			want: []int{311, 623, 935, 1246, 1870, 2805},
		},
		{
			name:  "density order does not matter",
			field: PictureField{AspectRatios: []string{"1/1"}, ContainerWidth: 935, GridColumns: 3, PixelDensities: []int{3, 1, 2}},
			width: 4000, height: 3000, ratio: "1/1",
			want: []int{311, 623, 935, 1246, 1870, 2805},
		},
		{
			name:  "a phone-sized upload keeps its full width",
			field: PictureField{AspectRatios: []string{"", "4/5"}, ContainerWidth: 935, GridColumns: 3, PixelDensities: []int{1, 2, 3}},
			width: 1080, height: 1350, ratio: "4/5",
			want: []int{311, 623, 935, 1080},
		},
		{
			name:  "the full width is not added within 10% of the top",
			field: PictureField{},
			width: 1150, height: 1000, ratio: "",
			want: steps(100, 1100, 100),
		},
		{
			name:  "a tiny source gets one variant",
			field: PictureField{AspectRatios: []string{"1/1"}},
			width: 90, height: 60, ratio: "1/1",
			want: []int{60},
		},
		{
			name:  "a ratio limited by the height",
			field: PictureField{AspectRatios: []string{"16/9"}},
			width: 4000, height: 900, ratio: "16/9",
			want: append(steps(100, 1200, 100), 1400, 1600),
		},
		{
			name:  "unreduced ratio matches its reduced declaration",
			field: PictureField{AspectRatios: []string{"16/9"}},
			width: 4000, height: 900, ratio: "32/18",
			want: append(steps(100, 1200, 100), 1400, 1600),
		},
		{
			name:  "fluid container uses the widest breakpoint",
			field: PictureField{ContainerWidth: Fluid, GridColumns: 4, PixelDensities: []int{1}},
			width: 5000, height: 5000, ratio: "",
			want: []int{350, 700, 1050, 1400},
		},
		{
			name:  "a 1x1 source",
			field: PictureField{},
			width: 1, height: 1, ratio: "",
			want: []int{1},
		},
		{
			name:  "no variant is zero pixels high",
			field: PictureField{AspectRatios: []string{"16/1"}},
			width: 10, height: 1000, ratio: "16/1",
			want: []int{},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.field.Widths(tt.width, tt.height, tt.ratio)
			require.NoError(t, err)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Widths(%d, %d, %q) mismatch (-want +got):\n%s", tt.width, tt.height, tt.ratio, diff)
			}
		})
	}
}

func TestWidthsErrors(t *testing.T) {
	tests := []struct {
		name          string
		field         PictureField
		width, height int
		ratio         string
		is            error
		msg           string
	}{
		{"undeclared ratio", PictureField{AspectRatios: []string{"1/1", "3/2", "16/9"}}, 800, 600, "4/3", ErrUnknownRatio,
			`pictures: undeclared aspect ratio "4/3" (choices: "1/1", "3/2", "16/9")`},
		{"original not declared", PictureField{AspectRatios: []string{"1/1"}}, 800, 600, "", ErrUnknownRatio,
			`pictures: undeclared aspect ratio "" (choices: "1/1")`},
		{"malformed ratio", PictureField{}, 800, 600, "16:9", ErrInvalidArgument,
			`pictures: invalid argument: aspect ratio "16:9" is not W/H`},
		{"zero size", PictureField{}, 0, 600, "", ErrInvalidArgument,
			`pictures: invalid argument: source size 0x600 is not between 1x1 and 1048576x1048576`},
		{"bad density", PictureField{PixelDensities: []int{1, 0}}, 800, 600, "", ErrInvalidConfig,
			`pictures: PictureField.PixelDensities: pixel density 0 is not between 1 and 8`},
		{"bad grid", PictureField{Name: "post.image", GridColumns: -3}, 800, 600, "", ErrInvalidConfig,
			`pictures: field "post.image": GridColumns: grid columns -3 is not between 1 and 128`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := tt.field.Widths(tt.width, tt.height, tt.ratio)
			require.Error(t, err)
			assert.ErrorIs(t, err, tt.is)
			assert.Equal(t, tt.msg, err.Error())
		})
	}
}

func TestSizes(t *testing.T) {
	small := []Breakpoint{{"small", 200}, {"medium", 400}, {"large", 800}}
	tests := []struct {
		name   string
		field  PictureField
		layout Layout
		want   string
	}{
		// The vectors of django-pictures (defaults, container 1200 unless noted).
		{"no columns", PictureField{}, Layout{},
			"(min-width: 0px) and (max-width: 1199px) 100vw, 1200px"},
		{"no columns, no container", PictureField{}, Layout{Container: Fluid},
			"100vw"},
		{"xs=6, no container", PictureField{}, Layout{Container: Fluid, Columns: map[string]int{"xs": 6}},
			"50vw"},
		{"xs=6", PictureField{}, Layout{Columns: map[string]int{"xs": 6}},
			"(min-width: 0px) and (max-width: 1199px) 50vw, 600px"},
		{"s=6, no container", PictureField{}, Layout{Container: Fluid, Columns: map[string]int{"s": 6}},
			"(min-width: 0px) and (max-width: 767px) 100vw, 50vw"},
		{"s=6", PictureField{}, Layout{Columns: map[string]int{"s": 6}},
			"(min-width: 0px) and (max-width: 767px) 100vw, (min-width: 768px) and (max-width: 1199px) 50vw, 600px"},
		{"s=6 l=9, no container", PictureField{}, Layout{Container: Fluid, Columns: map[string]int{"s": 6, "l": 9}},
			"(min-width: 0px) and (max-width: 767px) 100vw, (min-width: 768px) and (max-width: 1199px) 50vw, 75vw"},
		{"s=6 l=9 (upstream bug corrected)", PictureField{}, Layout{Columns: map[string]int{"s": 6, "l": 9}},
			"(min-width: 0px) and (max-width: 767px) 100vw, (min-width: 768px) and (max-width: 1199px) 50vw, 900px"},
		{"container 500, below every breakpoint", PictureField{}, Layout{Container: 500},
			"(min-width: 0px) and (max-width: 499px) 100vw, 500px"},
		{"field breakpoints", PictureField{Breakpoints: small, ContainerWidth: 600}, Layout{Columns: map[string]int{"small": 2, "medium": 3}},
			"(min-width: 0px) and (max-width: 399px) 16vw, (min-width: 400px) and (max-width: 599px) 25vw, 150px"},
		{"container 900, xs=6", PictureField{ContainerWidth: 900}, Layout{Columns: map[string]int{"xs": 6}},
			"(min-width: 0px) and (max-width: 899px) 50vw, 450px"},
		// Upstream bugs, corrected.
		{"m=6 l=4: fractions are not swapped at the container", PictureField{}, Layout{Columns: map[string]int{"m": 6, "l": 4}},
			"(min-width: 0px) and (max-width: 991px) 100vw, (min-width: 992px) and (max-width: 1199px) 50vw, 400px"},
		{"container above every breakpoint keeps the last vw range", PictureField{ContainerWidth: 1600}, Layout{Columns: map[string]int{"s": 6}},
			"(min-width: 0px) and (max-width: 767px) 100vw, (min-width: 768px) and (max-width: 1599px) 50vw, 800px"},
		{"grid columns are the field's, not 12", PictureField{GridColumns: 3, ContainerWidth: 935}, Layout{Columns: map[string]int{"xs": 1}},
			"(min-width: 0px) and (max-width: 934px) 33vw, 311px"},
		{"breakpoints above the container change the px width", PictureField{ContainerWidth: 1000}, Layout{Columns: map[string]int{"m": 6, "l": 4}},
			"(min-width: 0px) and (max-width: 991px) 100vw, (min-width: 992px) and (max-width: 999px) 50vw, (min-width: 1000px) and (max-width: 1199px) 500px, 333px"},
		// Our own.
		{"layout container overrides the field's", PictureField{ContainerWidth: 900}, Layout{Container: 600},
			"(min-width: 0px) and (max-width: 599px) 100vw, 600px"},
		{"fluid field", PictureField{ContainerWidth: Fluid}, Layout{Columns: map[string]int{"m": 4}},
			"(min-width: 0px) and (max-width: 991px) 100vw, 33vw"},
		{"breakpoints in any order", PictureField{Breakpoints: []Breakpoint{{"large", 800}, {"small", 200}, {"medium", 400}}, ContainerWidth: 600},
			Layout{Columns: map[string]int{"small": 2, "medium": 3}},
			"(min-width: 0px) and (max-width: 399px) 16vw, (min-width: 400px) and (max-width: 599px) 25vw, 150px"},
		{"equal fractions merge", PictureField{}, Layout{Columns: map[string]int{"xs": 6, "s": 6, "m": 6}},
			"(min-width: 0px) and (max-width: 1199px) 50vw, 600px"},
		{"a column count back to all columns", PictureField{}, Layout{Columns: map[string]int{"s": 6, "m": 12}},
			"(min-width: 0px) and (max-width: 767px) 100vw, (min-width: 768px) and (max-width: 991px) 50vw, (min-width: 992px) and (max-width: 1199px) 100vw, 1200px"},
		{"container on a breakpoint", PictureField{ContainerWidth: 992}, Layout{Columns: map[string]int{"s": 6, "m": 4}},
			"(min-width: 0px) and (max-width: 767px) 100vw, (min-width: 768px) and (max-width: 991px) 50vw, 330px"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.field.Sizes(tt.layout)
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
		})
	}
}

func TestSizesErrors(t *testing.T) {
	tests := []struct {
		name   string
		field  PictureField
		layout Layout
		is     error
		msg    string
	}{
		{"unknown breakpoint", PictureField{}, Layout{Columns: map[string]int{"xxl": 3}}, ErrUnknownBreakpoint,
			`pictures: unknown breakpoint "xxl" (valid: xs, s, m, l, xl)`},
		{"too many columns", PictureField{}, Layout{Columns: map[string]int{"m": 13}}, ErrInvalidArgument,
			`pictures: invalid argument: columns for breakpoint "m" must be between 1 and 12, got 13`},
		{"zero columns", PictureField{}, Layout{Columns: map[string]int{"m": 0}}, ErrInvalidArgument,
			`pictures: invalid argument: columns for breakpoint "m" must be between 1 and 12, got 0`},
		{"bad container", PictureField{}, Layout{Container: -5}, ErrInvalidArgument,
			`pictures: invalid argument: container -5 is not between 1 and 16384 (or Fluid)`},
		{"duplicate breakpoint", PictureField{Breakpoints: []Breakpoint{{"a", 100}, {"a", 200}}}, Layout{}, ErrInvalidConfig,
			`pictures: PictureField.Breakpoints: breakpoint "a" is declared twice`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := tt.field.Sizes(tt.layout)
			require.Error(t, err)
			assert.ErrorIs(t, err, tt.is)
			assert.Equal(t, tt.msg, err.Error())
		})
	}
}

func TestVariantKey(t *testing.T) {
	tests := []struct {
		key   string
		ratio Ratio
		width int
		ext   string
		want  string
	}{
		{"posts/beach.jpg", Ratio{16, 9}, 100, "avif", "posts/beach/16_9/100w.avif"},
		{"posts/beach.jpg", Ratio{}, 100, "avif", "posts/beach/100w.avif"},
		{"posts/beach.jpg", Ratio{1, 1}, 2400, "jpeg", "posts/beach/1_1/2400w.jpeg"},
		{"posts/beach", Ratio{4, 5}, 8, "png", "posts/beach/4_5/8w.png"},
		{"posts.d/beach", Ratio{}, 8, "png", "posts.d/beach/8w.png"},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.want, VariantKey(tt.key, tt.ratio, tt.width, tt.ext))
	}
}

func TestParseRatio(t *testing.T) {
	tests := []struct {
		in      string
		want    Ratio
		wantErr string
	}{
		{"", Ratio{}, ""},
		{"16/9", Ratio{16, 9}, ""},
		{"32/18", Ratio{16, 9}, ""},
		{"1/1", Ratio{1, 1}, ""},
		{"16:9", Ratio{}, `aspect ratio "16:9" is not W/H`},
		{"16/", Ratio{}, `aspect ratio "16/" is not W/H`},
		{"0/9", Ratio{}, `aspect ratio "0/9" is not W/H`},
		{"-16/9", Ratio{}, `aspect ratio "-16/9" is not W/H`},
		{"+16/9", Ratio{}, `aspect ratio "+16/9" is not W/H`},
		{"16/9/1", Ratio{}, `aspect ratio "16/9/1" is not W/H`},
		{"1.5/1", Ratio{}, `aspect ratio "1.5/1" is not W/H`},
		{"99999999/1", Ratio{}, `aspect ratio "99999999/1" has a term above 65536`},
	}
	for _, tt := range tests {
		got, err := ParseRatio(tt.in)
		if tt.wantErr != "" {
			assert.EqualError(t, err, tt.wantErr, tt.in)
			continue
		}
		require.NoError(t, err, tt.in)
		assert.Equal(t, tt.want, got, tt.in)
	}
	assert.Equal(t, "16_9", Ratio{16, 9}.Dir())
	assert.Equal(t, "16/9", Ratio{16, 9}.String())
	assert.Equal(t, "", Ratio{}.String())
}

func TestCropSize(t *testing.T) {
	tests := []struct {
		r          Ratio
		w, h       int
		wantW, wnH int
	}{
		{Ratio{}, 4000, 3000, 4000, 3000},
		{Ratio{1, 1}, 4000, 3000, 3000, 3000},
		{Ratio{1, 1}, 3000, 4000, 3000, 3000},
		{Ratio{4, 5}, 4000, 3000, 2400, 3000},
		{Ratio{16, 9}, 4000, 3000, 4000, 2250},
		{Ratio{16, 9}, 1001, 1000, 1001, 563},
	}
	for _, tt := range tests {
		w, h := tt.r.CropSize(tt.w, tt.h)
		assert.Equal(t, [2]int{tt.wantW, tt.wnH}, [2]int{w, h}, "%v of %dx%d", tt.r, tt.w, tt.h)
	}
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name  string
		field PictureField
		msgs  []string
	}{
		{"zero value", PictureField{}, nil},
		{"full", PictureField{Name: "post.image", AspectRatios: []string{"", "1/1", "4/5"}, ContainerWidth: 935, GridColumns: 3,
			PixelDensities: []int{1, 2, 3}, FileTypes: []string{"avif", "jpg"}, UploadTo: "posts/%Y/%m", MinWidth: 320, MinHeight: 320, MaxWidth: 8192, MaxHeight: 8192}, nil},
		{"colon ratio", PictureField{AspectRatios: []string{"16:9"}},
			[]string{`pictures: PictureField.AspectRatios: aspect ratio "16:9" is not W/H`}},
		{"named field", PictureField{Name: "post.image", AspectRatios: []string{"16:9"}},
			[]string{`pictures: field "post.image": AspectRatios: aspect ratio "16:9" is not W/H`}},
		{"repeated ratio", PictureField{AspectRatios: []string{"16/9", "32/18"}},
			[]string{`pictures: PictureField.AspectRatios: aspect ratio "32/18" repeats "16/9"`}},
		{"container", PictureField{ContainerWidth: -2},
			[]string{`pictures: PictureField.ContainerWidth: container width -2 is not between 1 and 16384 (or Fluid)`}},
		{"file type", PictureField{FileTypes: []string{"AVIF", "HEIC"}},
			[]string{`pictures: PictureField.FileTypes: file type "HEIC" is not supported (supported: AVIF, WEBP, JPEG, PNG)`}},
		{"upload pattern placeholder", PictureField{UploadTo: "posts/%y"},
			[]string{`pictures: PictureField.UploadTo: upload pattern "posts/%y" has a placeholder other than %Y %m %d %H %M %S %%`}},
		{"upload pattern escapes", PictureField{UploadTo: "../posts"},
			[]string{`pictures: PictureField.UploadTo: upload pattern "../posts" is not a clean relative folder`}},
		{"upload pattern absolute", PictureField{UploadTo: "/srv/posts"},
			[]string{`pictures: PictureField.UploadTo: upload pattern "/srv/posts" is not a clean relative folder`}},
		{"min above max", PictureField{MinWidth: 500, MaxWidth: 400},
			[]string{`pictures: PictureField.MinWidth: min width 500 is above max width 400`}},
		{"negative bound", PictureField{MaxHeight: -1},
			[]string{`pictures: PictureField.MaxHeight: max height -1 is not between 0 and 1048576`}},
		{"breakpoint width", PictureField{Breakpoints: []Breakpoint{{"a", 0}}},
			[]string{`pictures: PictureField.Breakpoints: breakpoint "a" has width 0, want > 0`}},
		{"breakpoint name", PictureField{Breakpoints: []Breakpoint{{"alt", 100}}},
			[]string{`pictures: PictureField.Breakpoints: breakpoint name "alt" is reserved for the picture helper`}},
		{"every problem at once", PictureField{AspectRatios: []string{"x"}, GridColumns: 500, PixelDensities: []int{2, 2}},
			[]string{
				`pictures: PictureField.AspectRatios: aspect ratio "x" is not W/H`,
				`pictures: PictureField.GridColumns: grid columns 500 is not between 1 and 128`,
				`pictures: PictureField.PixelDensities: pixel density 2 is declared twice`,
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.field.Validate()
			if tt.msgs == nil {
				assert.NoError(t, err)
				return
			}
			require.Error(t, err)
			assert.ErrorIs(t, err, ErrInvalidConfig)
			var ce *ConfigError
			require.True(t, errors.As(err, &ce))
			var got []string
			for _, e := range unjoin(err) {
				got = append(got, e.Error())
			}
			assert.Equal(t, tt.msgs, got)
		})
	}
}

func unjoin(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return j.Unwrap()
	}
	return []error{err}
}
