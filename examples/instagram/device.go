package main

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"net/http"
	"strings"
	"time"
)

// Device cookies (OWASP's defence against lockouts): a browser that logged
// in to an account once keeps a cookie that says so, and its later login
// attempts at that account are throttled on their own, not with the
// attempts of everyone else (auth.go). An attacker who floods the account
// with wrong passwords locks out unknown browsers, never its owner's.
//
// The cookie is "username.id.mac": a random ID and an HMAC of the username
// and ID keyed by the account's password hash, which only the database
// holds, so any web process can check it, none can be forged without the
// database, and changing the password revokes them all. It is sent to
// /login only.

const (
	deviceName = "device"
	deviceTTL  = 365 * 24 * time.Hour
)

func deviceMAC(hash []byte, username, id string) string {
	m := hmac.New(sha256.New, hash)
	m.Write([]byte("instagram device\x00" + username + "\x00" + id))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil)[:18])
}

// rememberDevice gives the browser a device cookie for the account.
func (s *Server) rememberDevice(w http.ResponseWriter, r *http.Request, username string, hash []byte) {
	id := strings.ToLower(rand.Text()[:16])
	_, https := s.client(r)
	http.SetCookie(w, &http.Cookie{
		Name: deviceName, Value: username + "." + id + "." + deviceMAC(hash, username, id), Path: "/login",
		MaxAge: int(deviceTTL.Seconds()), HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: https,
	})
}

// device returns the ID of the request's device cookie if it is a valid
// one for username, whose password hash is hash, or "".
func (s *Server) device(r *http.Request, username string, hash []byte) string {
	c, err := r.Cookie(deviceName)
	if err != nil {
		return ""
	}
	rest, ok := strings.CutPrefix(c.Value, username+".")
	id, mac, ok2 := strings.Cut(rest, ".")
	if !ok || !ok2 || id == "" || !hmac.Equal([]byte(mac), []byte(deviceMAC(hash, username, id))) {
		return ""
	}
	return id
}
