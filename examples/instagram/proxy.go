package main

import (
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strings"
)

// Behind a reverse proxy (one that terminates TLS, say), every request
// comes from the proxy's address over plain HTTP. The proxies listed in
// Config.TrustedProxies (the -trusted-proxies flag) are believed when they
// say who the client is and whether it came over HTTPS, in the standard
// Forwarded header (RFC 7239) or the common X-Forwarded-For and
// X-Forwarded-Proto; nobody else is.

// parsePrefixes reads a comma-separated list of addresses and networks,
// such as "127.0.0.1/32, 10.0.0.0/8, ::1"; an address alone is a network
// of one.
func parsePrefixes(s string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for f := range strings.SplitSeq(s, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		if !strings.Contains(f, "/") {
			a, err := netip.ParseAddr(f)
			if err != nil {
				return nil, fmt.Errorf("proxy address %q: %v", f, err)
			}
			out = append(out, netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen()))
			continue
		}
		p, err := netip.ParsePrefix(f)
		if err != nil {
			return nil, fmt.Errorf("proxy network %q: %v", f, err)
		}
		out = append(out, p.Masked())
	}
	return out, nil
}

// prefixList is a flag.Value of networks.
type prefixList struct{ p *[]netip.Prefix }

func (l prefixList) String() string {
	if l.p == nil {
		return ""
	}
	s := make([]string, len(*l.p))
	for i, p := range *l.p {
		s[i] = p.String()
	}
	return strings.Join(s, ",")
}

func (l prefixList) Set(v string) error {
	p, err := parsePrefixes(v)
	if err == nil {
		*l.p = p
	}
	return err
}

func (s *Server) trusted(a netip.Addr) bool {
	a = a.Unmap()
	for _, p := range s.proxies {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// client returns the address of the request's client and whether it came
// over HTTPS, as the trusted proxies it passed through say.
func (s *Server) client(r *http.Request) (addr netip.Addr, https bool) {
	https = r.TLS != nil
	ap, err := netip.ParseAddrPort(r.RemoteAddr)
	if err != nil {
		return netip.Addr{}, https
	}
	addr = ap.Addr().Unmap()
	if !s.trusted(addr) {
		return addr, https
	}
	// Walk back from the nearest hop, written by the proxy that connected
	// here, while the hops are trusted proxies: the first that is not is
	// the client, and the scheme is the one its proxy was reached by.
	var addrs, protos []string
	if fwd := r.Header.Values("Forwarded"); len(fwd) > 0 {
		for _, v := range fwd {
			for elem := range strings.SplitSeq(v, ",") {
				var a, p string
				for pair := range strings.SplitSeq(elem, ";") {
					k, v, _ := strings.Cut(strings.TrimSpace(pair), "=")
					switch v = strings.Trim(v, `"`); strings.ToLower(k) {
					case "for":
						a = v
					case "proto":
						p = v
					}
				}
				addrs, protos = append(addrs, a), append(protos, p)
			}
		}
	} else {
		for _, v := range r.Header.Values("X-Forwarded-For") {
			for a := range strings.SplitSeq(v, ",") {
				addrs, protos = append(addrs, a), append(protos, "")
			}
		}
	}
	proto := ""
	for i := len(addrs) - 1; i >= 0; i-- {
		if p := strings.TrimSpace(protos[i]); p != "" {
			proto = strings.ToLower(p)
		}
		a := forwardedAddr(strings.TrimSpace(addrs[i]))
		if !a.IsValid() {
			break // an obfuscated or missing client: the proxy stands for it
		}
		if addr = a; !s.trusted(a) {
			break
		}
	}
	if len(r.Header.Values("Forwarded")) == 0 {
		// Proxies set X-Forwarded-Proto to the scheme they were reached
		// by, or append theirs to it: the first is the client's.
		first, _, _ := strings.Cut(r.Header.Get("X-Forwarded-Proto"), ",")
		proto = strings.ToLower(strings.TrimSpace(first))
	}
	return addr, https || proto == "https"
}

// forwardedAddr reads the address of a Forwarded for= or an
// X-Forwarded-For entry: "192.0.2.1", "192.0.2.1:443", "[2001:db8::1]:443"
// or "2001:db8::1". Obfuscated identifiers ("_hidden", "unknown") give the
// zero Addr.
func forwardedAddr(s string) netip.Addr {
	if a, err := netip.ParseAddr(s); err == nil {
		return a.Unmap()
	}
	if ap, err := netip.ParseAddrPort(s); err == nil {
		return ap.Addr().Unmap()
	}
	if host, _, err := net.SplitHostPort(s); err == nil {
		if a, err := netip.ParseAddr(host); err == nil {
			return a.Unmap()
		}
	}
	if a, err := netip.ParseAddr(strings.Trim(s, "[]")); err == nil {
		return a.Unmap()
	}
	return netip.Addr{}
}

// network is the client's network for throttling: its IPv4 address, or
// the /64 of its IPv6 address (what one subscriber gets).
func network(a netip.Addr) string {
	if !a.IsValid() {
		return "unknown"
	}
	if a.Is4() {
		return a.String()
	}
	p, _ := a.Prefix(64)
	return p.String()
}
