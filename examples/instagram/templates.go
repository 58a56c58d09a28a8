package main

import (
	"fmt"
	"html/template"
	"maps"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/gopictures/pictures"
)

var pageNames = []string{"feed", "explore", "profile", "post", "new", "settings", "login", "signup", "error"}

// parsePages parses every page with the layout and partials, once.
func parsePages() map[string]*template.Template {
	funcs := template.FuncMap{
		"ago":        ago,
		"alt":        altText,
		"feedRatio":  feedRatio,
		"initial":    initial,
		"plural":     plural,
		"processing": processing,
	}
	maps.Copy(funcs, pictures.FuncMap())
	base := template.Must(template.New("").Funcs(funcs).ParseFS(assets, "templates/layout.html", "templates/partials.html"))
	pages := make(map[string]*template.Template, len(pageNames))
	for _, name := range pageNames {
		pages[name] = template.Must(template.Must(base.Clone()).ParseFS(assets, "templates/"+name+".html"))
	}
	return pages
}

// feedRatio crops photos taller than 4:5 to 4:5 in the feed, as the real
// site does, and shows the others whole.
func feedRatio(p pictures.Picture) string {
	if p.Width*5 < p.Height*4 {
		return "4/5"
	}
	return ""
}

// processing reports whether a picture's variants are still being made.
func processing(p pictures.Picture) bool {
	f, err := pictures.Lookup(p.Field)
	return err == nil && !p.IsZero() && !f.Current(p)
}

// altText describes a post's photo: its caption, or whose photo it is.
func altText(p Post) string {
	if c := strings.TrimSpace(p.Caption); c != "" {
		if r := []rune(c); len(r) > 120 {
			c = string(r[:117]) + "..."
		}
		return "Photo by @" + p.Author.Username + ": " + c
	}
	return "Photo by @" + p.Author.Username
}

func initial(u User) string {
	name := u.Name
	if name == "" {
		name = u.Username
	}
	r, _ := utf8.DecodeRuneInString(name)
	if r == utf8.RuneError {
		return "?"
	}
	return string(unicode.ToUpper(r))
}

func plural(n int, word string) string {
	if n == 1 {
		return word
	}
	return word + "s"
}

// ago formats a time as the site does: 5m, 3h, 2d, then a date.
func ago(t time.Time) string {
	d := time.Since(t)
	switch {
	case d < time.Minute:
		return "now"
	case d < time.Hour:
		return fmt.Sprintf("%dm", int(d.Minutes()))
	case d < 24*time.Hour:
		return fmt.Sprintf("%dh", int(d.Hours()))
	case d < 7*24*time.Hour:
		return fmt.Sprintf("%dd", int(d.Hours()/24))
	case t.Year() == time.Now().Year():
		return t.Format("Jan 2")
	}
	return t.Format("Jan 2, 2006")
}
