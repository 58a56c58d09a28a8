package main

import (
	"strings"
	"unicode"
)

// Passwords. Signups refuse, besides those shorter than 8 characters
// (auth.go), the passwords an attacker tries first: the username or the
// name, a password of the common list below (ignoring case and trailing
// digits and punctuation, so "Password1!" is "password"), one character
// repeated, or a run of the keyboard or the alphabet ("12345678",
// "qwertyui"). The list is short on purpose: throttling (auth.go) makes
// guessing slow; this takes away the first guesses.

// commonPasswords are passwords found at the top of every leaked list,
// lower case, with what the rules above already catch left out.
var commonPasswords = makeSet(`
password passwort passw0rd p@ssw0rd p@ssword pa55word pass1234 mypassword
iloveyou sunshine princess football baseball basketball superman starwars
whatever trustno1 letmein welcome welcome1 admin administrator computer
internet michelle jennifer jessica charlie chocolate butterfly liverpool
chelsea arsenal manchester monkey dragon shadow master michael jordan
killer hello hellohello lovely loveme freedom matrix samsung iphone
facebook google instagram pictures photography photos photo myspace
linkedin secret changeme default qazwsx qazwsxedc qweasdzxc qweasd
1qaz2wsx 1qazxsw2 zaq12wsx zaq1zaq1 1q2w3e4r 1q2w3e4r5t q1w2e3r4 q1w2e3r4t5
qwer qwerty qwertz azerty asdf asdfgh zxcvbn abc abcd 123qwe 123abc qwe123
abc123 a1b2c3d4 aa123456 iloveu iloveyou ilovemyself mustang ferrari
pokemon naruto minecraft fortnite batman spiderman ironman pepper ginger
summer winter autumn spring friends family forever blessed flower flowers
angel angels beautiful babygirl baby sweetheart soccer hockey tennis
london paris berlin newyork america canada australia
`)

func makeSet(words string) map[string]bool {
	m := map[string]bool{}
	for _, w := range strings.Fields(words) {
		m[w] = true
	}
	return m
}

// Keyboard rows and the alphabet, forwards: a password that is a run of
// one of them (or of it backwards) is refused.
var runs = []string{
	"01234567890", "1234567890", "qwertyuiop", "asdfghjkl", "zxcvbnm", "qwertzuiop", "azertyuiop",
	"abcdefghijklmnopqrstuvwxyz",
}

// weakPassword returns why a password is refused for the account, or "".
func weakPassword(username, name, password string) string {
	lower := strings.ToLower(password)
	base := strings.TrimRightFunc(lower, func(r rune) bool { return unicode.IsDigit(r) || unicode.IsPunct(r) || unicode.IsSymbol(r) || r == ' ' })
	squeezed := strings.ReplaceAll(lower, " ", "")
	nameSqueezed := strings.ToLower(strings.ReplaceAll(name, " ", ""))
	switch {
	case lower == username || base == username || lower == reverse(username) ||
		nameSqueezed != "" && (squeezed == nameSqueezed || base == nameSqueezed):
		return "Choose a password that is not your username or your name."
	case commonPasswords[lower] || commonPasswords[base] || commonPasswords[squeezed] ||
		repeated(lower) || isRun(lower) || isRun(base) && len(base) >= 4:
		return "That password is among the first ones attackers try. Choose another."
	}
	return ""
}

func reverse(s string) string {
	r := []rune(s)
	for i, j := 0, len(r)-1; i < j; i, j = i+1, j-1 {
		r[i], r[j] = r[j], r[i]
	}
	return string(r)
}

// repeated reports whether s is one character, or a pair of them,
// repeated ("aaaaaaaa", "abababab").
func repeated(s string) bool {
	r := []rune(s)
	for i := 2; i < len(r); i++ {
		if r[i] != r[i-2] {
			return false
		}
	}
	return len(r) > 0
}

// isRun reports whether s is a stretch of a keyboard row or the alphabet,
// forwards or backwards.
func isRun(s string) bool {
	if s == "" {
		return false
	}
	for _, run := range runs {
		if strings.Contains(run, s) || strings.Contains(reverse(run), s) {
			return true
		}
	}
	return false
}
