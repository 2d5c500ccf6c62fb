package config

import (
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestDefaultsAreValid(t *testing.T) {
	c := Default()
	if ps := c.Validate(); len(ps) > 0 {
		t.Fatalf("defaults invalid: %v", ps)
	}
}

func TestDecode(t *testing.T) {
	tests := []struct {
		name  string
		src   string
		check func(t *testing.T, c Config)
		want  []string // problems, as "line:key" prefixes
	}{
		{
			name: "overrides",
			src: `data_dir = "/tmp/x"
required_score = 4
reject_score = 10.5
[milter]
listen = "unix:/run/postern.sock"
shutdown_timeout = "5s"
[limits]
memory_spool = "64KiB"
max_message_size = 10485760
scan_limit = "5MiB"
`,
			check: func(t *testing.T, c Config) {
				if c.DataDir != "/tmp/x" || c.RequiredScore != 4 || c.RejectScore != 10.5 {
					t.Errorf("top level: %+v", c)
				}
				if c.Milter.Listen != "unix:/run/postern.sock" || c.Milter.ShutdownTimeout.D() != 5*time.Second {
					t.Errorf("milter: %+v", c.Milter)
				}
				if c.Limits.MemorySpool != 64<<10 || c.Limits.MaxMessageSize != 10<<20 || c.Limits.ScanLimit != 5<<20 {
					t.Errorf("limits: %+v", c.Limits)
				}
				if c.OnError != "tempfail" {
					t.Errorf("untouched key lost its default: %q", c.OnError)
				}
			},
		},
		{
			name: "every problem with its line",
			src: `required_score = 5
bogus = 1
on_error = "maybe"
[milter]
listen = "tcp:1.2.3.4"
[limits]
scan_limit = "lots"
`,
			want: []string{"2:bogus", "3:on_error", "5:milter.listen", "7:limits.scan_limit"},
		},
		{
			name: "wrong types",
			src:  "required_score = \"five\"\ncheck_timeout = 60\n[replies]\nspam = 3\n",
			want: []string{"1:required_score", "2:check_timeout", "4:replies.spam"},
		},
		{
			name: "unknown table",
			src:  "[milters]\nlisten = \"inet:127.0.0.1:1\"\n",
			want: []string{"1:milters"},
		},
		{
			name: "Bayes: autolearn veto and margin out of range",
			src:  "[bayes]\nautolearn_veto = 1.5\nlearn_margin = 0.6\n",
			want: []string{"2:bayes.autolearn_veto", "3:bayes.learn_margin"},
		},
		{
			name: "Bayes: no autolearn veto",
			src:  "[bayes]\nautolearn_veto = 0\n",
			want: nil,
		},
		{
			name: "inconsistent thresholds",
			src:  "required_score = 8\nreject_score = 6\n",
			want: []string{"2:reject_score"},
		},
		{
			name: "clamd addresses: what the client dials, config accepts",
			src:  "[clamd]\naddress = \"/var/run/clamav/clamd.ctl\"\n",
			want: nil,
		},
		{
			name: "attachments: an operator's lists, and what is not an extension or a type",
			src:  "[attachments]\nextensions = [\".EXE\", \"docm\", \"tar.gz\", \"\"]\ntypes = [\"application/x-msdownload\", \"exe\"]\nexempt_rcpts = [\"it@example.com\", \"@lab.example\", \"lab.example\"]\n",
			want: []string{"2:attachments.extensions[2]", "2:attachments.extensions[3]", "3:attachments.types[1]", "4:attachments.exempt_rcpts[2]"},
		},
		{
			name: "attachments: banned by default",
			src:  "",
			check: func(t *testing.T, c Config) {
				a := c.Attachments
				if !a.Enabled || !a.Executables || !a.InsideArchives || !slices.Contains(a.Extensions, "exe") || !slices.Contains(a.Types, "application/x-msdownload") {
					t.Errorf("attachments: %+v", a)
				}
			},
		},
		{
			name: "clamd address without a port",
			src:  "[clamd]\naddress = \"tcp://127.0.0.1\"\n",
			want: []string{"2:clamd.address"},
		},
		{
			name: "block lists: zones with per-code settings",
			src: `[dns]
resolver = "127.0.0.1:53"
[dnsbl]
zones = ["zen.example", "bl.example"]
[dnsbl.zone."zen.example"]
test = "RCVD_IN_ZEN"
reject = ["127.0.0.2-127.0.0.9"]
scores = { "127.0.0.10/31" = 1.5 }
`,
			check: func(t *testing.T, c Config) {
				z, ok := c.DNSBL.Zone["zen.example"]
				if !ok || z.Test != "RCVD_IN_ZEN" || len(z.Reject) != 1 || z.Scores["127.0.0.10/31"] != 1.5 {
					t.Errorf("zone: %+v", c.DNSBL.Zone)
				}
			},
		},
		{
			name: "block lists without a resolver, a bad code, a zone not listed",
			src: `[dnsbl]
zones = ["zen.example"]
[dnsbl.zone."zen.example"]
reject = ["127.0.0.9-127.0.0.2"]
[dnsbl.zone."other.example"]
test = "X"
`,
			want: []string{":dns.resolver", `4:dnsbl.zone."zen.example".reject`, `5:dnsbl.zone."other.example"`},
		},
		{
			name: "URI block lists: points by return code",
			src: `[dns]
resolver = "127.0.0.1:53"
[uribl]
zones = ["multi.example", "dbl.example"]
scores = { "dbl.example" = 2.5 }
[uribl.zone."multi.example"]
test = "URIBL_MULTI"
scores = { "2" = 1.7, "4" = 0.3 }
`,
			check: func(t *testing.T, c Config) {
				z, ok := c.URIBL.Zone["multi.example"]
				if !ok || z.Test != "URIBL_MULTI" || z.Scores["4"] != 0.3 || c.URIBL.Scores["dbl.example"] != 2.5 {
					t.Errorf("uribl: %+v", c.URIBL)
				}
			},
		},
		{
			name: "URI block lists: a bad code, a zone scored twice, a zone not listed",
			src: `[dns]
resolver = "127.0.0.1:53"
[uribl]
zones = ["multi.example", "dbl.example"]
scores = { "dbl.example" = 2.5 }
[uribl.zone."multi.example"]
scores = { "grey" = 0.3 }
[uribl.zone."dbl.example"]
scores = { "127.0.1.2" = 2.5 }
[uribl.zone."other.example"]
test = "X"
`,
			want: []string{`7:uribl.zone."multi.example".scores`, `9:uribl.zone."dbl.example".scores`, `10:uribl.zone."other.example"`},
		},
		{
			name: "URI block lists: an address list with its table, and one that is a domain list too",
			src: `[dns]
resolver = "127.0.0.1:53"
[uribl]
zones = ["dbl.example"]
ip_zones = ["zen.example", "dbl.example"]
[uribl.zone."zen.example"]
test = "URIBL_SBL_A"
scores = { "127.0.0.2" = 1.5 }
`,
			want: []string{`5:uribl.ip_zones`},
		},
		{
			name: "URI block lists: one address list asked about hosts and name servers",
			src: `[dns]
resolver = "127.0.0.1:53"
[uribl]
ip_zones = ["zen.example"]
ns_zones = ["zen.example"]
[uribl.zone."zen.example"]
test = "URIBL_SBL_A"
[uribl.ns_zone."zen.example"]
test = "URIBL_SBL"
scores = { "127.0.0.2" = 1.6 }
`,
			check: func(t *testing.T, c Config) {
				if z := c.URIBL.NSZone["zen.example"]; z.Test != "URIBL_SBL" || z.Scores["127.0.0.2"] != 1.6 || c.URIBL.Zone["zen.example"].Test != "URIBL_SBL_A" {
					t.Errorf("uribl: %+v", c.URIBL)
				}
			},
		},
		{
			name: "URI block lists: a name-server list that is a domain list too, a bad code, a table for a zone not listed",
			src: `[uribl]
zones = ["dbl.example"]
ns_zones = ["dbl.example", "zen.example"]
[uribl.ns_zone."zen.example"]
scores = { "black" = 1 }
[uribl.ns_zone."sbl.example"]
test = "X"
`,
			want: []string{":dns.resolver", `3:uribl.ns_zones`, `5:uribl.ns_zone."zen.example".scores`, `6:uribl.ns_zone."sbl.example"`},
		},
		{
			name: "greylisting: a window shorter than the delay",
			src:  "[greylist]\nenabled = true\ndelay = \"1h\"\nretry_window = \"30m\"\n",
			want: []string{"4:greylist.retry_window"},
		},
		{
			name: "recipients: their own scores and tag, the rest global",
			src: `[recipients."@customer.example"]
reject_score = 10
subject_tag = "[SPAM]"
[recipients."ceo@customer.example"]
required_score = 8
reject_score = 1000
`,
			check: func(t *testing.T, c Config) {
				d, ceo := c.Recipients["@customer.example"], c.Recipients["ceo@customer.example"]
				if d.RequiredScore != nil || *d.RejectScore != 10 || *d.SubjectTag != "[SPAM]" || *ceo.RequiredScore != 8 || ceo.SubjectTag != nil {
					t.Errorf("recipients: %+v", c.Recipients)
				}
				if s := c.RecipientSettings()["ceo@customer.example"]; *s.RejectScore != 1000 {
					t.Errorf("settings: %+v", s)
				}
			},
		},
		{
			name: "recipients: a key that is no address, reject below required, a wrong type, an unknown key",
			src: `[recipients."customer.example"]
reject_score = 10
[recipients."@low.example"]
reject_score = 3
[recipients."@typed.example"]
required_score = "high"
[recipients."@unknown.example"]
spam_lover = true
`,
			want: []string{`1:recipients."customer.example": want an address or @domain`, `3:recipients."@low.example"`, `6:recipients."@typed.example".required_score`, `8:recipients."@unknown.example".spam_lover`},
		},
		{
			name: "recipients: one domain twice",
			src:  "[recipients.\"@Twice.example\"]\n[recipients.\"@twice.example\"]\n",
			want: []string{`:recipients`},
		},
		{
			name: "syntax error",
			src:  "required_score = 5\nreject_score = = 6\n",
			want: []string{"2:"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := Default()
			ps := Decode(&c, "p.toml", []byte(tc.src))
			var got []string
			for _, p := range ps {
				got = append(got, p.String())
			}
			if len(got) != len(tc.want) {
				t.Fatalf("problems = %q, want %d like %q", got, len(tc.want), tc.want)
			}
			for i, w := range tc.want {
				line, key, _ := strings.Cut(w, ":")
				prefix := "p.toml:" + line + ": " + key
				if line == "" {
					prefix = "p.toml: " + key // a key the file does not set
				}
				if !strings.HasPrefix(got[i], prefix) {
					t.Errorf("problem %d = %q, want p.toml:%s: %s…", i, got[i], line, key)
				}
			}
			if tc.check != nil {
				tc.check(t, c)
			}
		})
	}
}

func TestLoadMissing(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "none.toml")
	if c, err := Load(missing, true); err != nil || c.RequiredScore != 5 {
		t.Errorf("optional missing file: %v %+v", err, c)
	}
	if _, err := Load(missing, false); err == nil {
		t.Error("explicit missing file: no error")
	}
}

func TestParseListen(t *testing.T) {
	tests := []struct{ in, network, addr string }{
		{"inet:127.0.0.1:8895", "tcp", "127.0.0.1:8895"},
		{"inet:[::1]:8895", "tcp", "[::1]:8895"},
		{"unix:/run/postern/milter.sock", "unix", "/run/postern/milter.sock"},
		{"127.0.0.1:8895", "", ""},
		{"inet:localhost", "", ""},
		{"unix:", "", ""},
	}
	for _, tc := range tests {
		n, a, err := ParseListen(tc.in)
		if n != tc.network || a != tc.addr || (err == nil) != (tc.network != "") {
			t.Errorf("ParseListen(%q) = %q %q %v", tc.in, n, a, err)
		}
	}
}

// The committed reference must be what the struct says, so it never drifts.
func TestReferenceUpToDate(t *testing.T) {
	want := Reference()
	got, err := os.ReadFile("../docs/configuration.md")
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != want {
		t.Fatal("docs/configuration.md is stale: run `go run ./cmd/postern config doc > docs/configuration.md`")
	}
	for _, key := range []string{"data_dir", "required_score", "reject_score", "on_error", "listen"} {
		if !strings.Contains(want, "`"+key+"`") {
			t.Errorf("reference lacks %s", key)
		}
	}
}

// The example shipped in docs/ must stay valid.
func TestExampleConfig(t *testing.T) {
	c, err := Load("../docs/postern.toml.example", false)
	if err != nil {
		t.Fatal(err)
	}
	if c.Clamd.Address != "unix:/var/run/clamav/clamd.ctl" {
		t.Errorf("example sets clamd address %q, want Debian's socket", c.Clamd.Address)
	}
}

// A default is written as exactly as the TOML file would need it: a float keeps its
// digits (learn_margin 0.01 once read "0.0") and stays a float.
func TestLiteral(t *testing.T) {
	for _, tc := range []struct {
		v    any
		want string
	}{
		{12.0, "12.0"},
		{0.1, "0.1"},
		{0.01, "0.01"},
		{0.2, "0.2"},
		{"x", `"x"`},
		{[]string{"a", "b"}, `["a", "b"]`},
		{200, "200"},
	} {
		if got := literal(reflect.ValueOf(tc.v)); got != tc.want {
			t.Errorf("literal(%v) = %s, want %s", tc.v, got, tc.want)
		}
	}
}

func TestChanged(t *testing.T) {
	for _, tc := range []struct {
		name string
		edit func(*Config)
		want string
	}{
		{"nothing", func(*Config) {}, ""},
		{"a top-level key", func(c *Config) { c.RejectScore = 8 }, "reject_score"},
		{"a section's keys, each", func(c *Config) { c.Clamd.Address = "unix:/x"; c.Clamd.Timeout = Duration(time.Second) }, "clamd.address clamd.timeout"},
		{"a list", func(c *Config) { c.Policy.AllowLists = []string{"/etc/a"} }, "policy.allow_lists"},
		{"a table of tables, as one", func(c *Config) { c.Recipients = map[string]Recipient{"@x.example": {}} }, "recipients"},
		{"a zone of a section", func(c *Config) { c.DNSBL.Zone = map[string]DNSBLZone{"z.example": {}} }, "dnsbl.zone"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a, b := Default(), Default()
			tc.edit(&b)
			if got := strings.Join(Changed(a, b), " "); got != tc.want {
				t.Errorf("Changed = %q, want %q", got, tc.want)
			}
		})
	}
}

// Every key SIGHUP is said to apply is a key of the configuration: a renamed
// key would otherwise be reported as waiting for a restart while it is applied.
func TestReloadableKeysExist(t *testing.T) {
	keys := map[string]bool{}
	for _, k := range Keys() {
		keys[k] = true
	}
	for k := range reloadable {
		if !keys[k] {
			t.Errorf("reloadable key %q is no key of the configuration", k)
		}
	}
}

// TestReloaded: what a SIGHUP builds from takes the new file's reloadable keys
// and keeps every other key as serve started with it.
func TestReloaded(t *testing.T) {
	started := Default()
	next := Default()
	next.RejectScore = 8                                                           // reloadable
	next.Auth.Enabled = true                                                       // waits for a restart
	next.Auth.DMARCReject = true                                                   // reloadable
	next.Clamd.Address = "unix:/elsewhere"                                         // waits for a restart
	next.Greylist.Enabled = true                                                   // waits for a restart
	next.Greylist.Delay = Duration(time.Minute)                                    // reloadable
	next.URIBL.Zone = map[string]URIBLZone{"multi.example": {Test: "URIBL_MULTI"}} // reloadable, as dnsbl.zone
	got := Reloaded(started, next)
	if got.RejectScore != 8 || !got.Auth.DMARCReject || got.Greylist.Delay != Duration(time.Minute) || got.URIBL.Zone["multi.example"].Test != "URIBL_MULTI" {
		t.Errorf("reloadable keys not taken: %+v", got)
	}
	if got.Auth.Enabled || got.Clamd.Address != "" || got.Greylist.Enabled {
		t.Errorf("keys that wait for a restart changed: auth.enabled %v, clamd.address %q, greylist.enabled %v",
			got.Auth.Enabled, got.Clamd.Address, got.Greylist.Enabled)
	}
	for _, k := range Changed(started, got) {
		if !Reloads(k) {
			t.Errorf("%s changed, and it waits for a restart", k)
		}
	}
	if strings.Join(Changed(next, got), " ") != "greylist.enabled auth.enabled clamd.address" {
		t.Errorf("Changed(next, Reloaded) = %q", Changed(next, got))
	}
}
