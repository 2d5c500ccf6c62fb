package config

import (
	"os"
	"strings"
	"testing"
)

// FuzzDecode: whatever an operator's file holds, Decode reports its problems,
// each with a message and the file's name, and never panics.
func FuzzDecode(f *testing.F) {
	example, err := os.ReadFile("../docs/postern.toml.example")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(example)
	for _, s := range []string{
		"required_score = 5\nreject_score = 15\n",
		"[uribl]\nzones = [\"dbl.test\"]\nns_zones = [\"sbl.test\"]\n[uribl.ns_zone.\"sbl.test\"]\nscores = { \"127.0.0.2\" = 1.6 }\n",
		"[dnsbl.zone.\"x\"]\nreject = [\"127.0.0.9-127.0.0.2\"]\n",
		"[recipients.\"@a.example\"]\nreject_score = 10\n",
		"[greylist]\nenabled = true\ndelay = \"1h\"\nretry_window = \"30m\"\n",
		"[[x]]\n", "a = [1, \"b\"]\n", "[clamd]\ntimeout = -1\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, src []byte) {
		cfg := Default()
		ps := Decode(&cfg, "f.toml", src)
		for _, p := range ps {
			if p.File != "f.toml" || p.Msg == "" {
				t.Fatalf("problem %+v", p)
			}
		}
		if len(ps) > 0 && !strings.Contains(ps.Error(), "f.toml") {
			t.Fatalf("error %q names no file", ps.Error())
		}
	})
}
