// Package clamdaddr parses the [clamd] address of the configuration. It is its own
// package so that config (which validates the address and depends on nothing of
// Postern's) and clamav (which dials it) read it the same way.
package clamdaddr

import (
	"fmt"
	"net"
	"strings"
)

// Parse splits "tcp://HOST:PORT", "unix:PATH", "unix://PATH" or "/PATH" into Go's
// network and address.
func Parse(s string) (network, address string, err error) {
	switch {
	case strings.HasPrefix(s, "tcp://"):
		address = strings.TrimPrefix(s, "tcp://")
		if _, _, err := net.SplitHostPort(address); err != nil {
			return "", "", fmt.Errorf("clamd address %q: want tcp://HOST:PORT", s)
		}
		return "tcp", address, nil
	case strings.HasPrefix(s, "unix://") && len(s) > len("unix://"):
		return "unix", strings.TrimPrefix(s, "unix://"), nil
	case strings.HasPrefix(s, "unix:") && len(s) > len("unix:"):
		return "unix", strings.TrimPrefix(s, "unix:"), nil
	case strings.HasPrefix(s, "/"):
		return "unix", s, nil
	}
	return "", "", fmt.Errorf("clamd address %q: want tcp://HOST:PORT or unix:PATH", s)
}
