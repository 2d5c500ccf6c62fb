package config

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"reflect"
	"sort"
	"strconv"
	"strings"

	"github.com/BurntSushi/toml"
)

// Load reads the file at path over the defaults. A missing file is not an error when
// optional is true (the default path): the built-in defaults apply. Every problem in the
// file is returned at once, as Problems, each with file:line where the key is.
func Load(path string, optional bool) (Config, error) {
	cfg := Default()
	src, err := os.ReadFile(path)
	if err != nil {
		if optional && errors.Is(err, os.ErrNotExist) {
			return cfg, nil
		}
		return cfg, fmt.Errorf("config: %w", err)
	}
	ps := Decode(&cfg, path, src)
	if len(ps) > 0 {
		return cfg, ps
	}
	return cfg, nil
}

// Decode applies the TOML document src (named file in messages) over cfg and validates
// the result. Unknown keys and wrongly typed values are problems, never ignored.
func Decode(cfg *Config, file string, src []byte) Problems {
	var doc map[string]any
	if _, err := toml.NewDecoder(bytes.NewReader(src)).Decode(&doc); err != nil {
		var pe toml.ParseError
		if errors.As(err, &pe) {
			return Problems{{File: file, Line: pe.Position.Line, Msg: pe.Message}}
		}
		return Problems{{File: file, Msg: err.Error()}}
	}
	var ps Problems
	assign(reflect.ValueOf(cfg).Elem(), doc, "", &ps)
	ps = append(ps, cfg.Validate()...)
	lines := keyLines(src)
	for i := range ps {
		ps[i].File = file
		key, _, _ := strings.Cut(ps[i].Key, "[") // a list's element: the list's line
		ps[i].Line = lines[key]
	}
	sort.SliceStable(ps, func(i, j int) bool { return ps[i].Line < ps[j].Line })
	return ps
}

// assign sets the fields of the struct v from the TOML table doc, recording a problem
// for every unknown key or value of the wrong type.
func assign(v reflect.Value, doc map[string]any, prefix string, ps *Problems) {
	fields := map[string]reflect.Value{}
	t := v.Type()
	for i := 0; i < t.NumField(); i++ {
		fields[t.Field(i).Tag.Get("toml")] = v.Field(i)
	}
	keys := make([]string, 0, len(doc))
	for k := range doc {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		raw, full := doc[k], prefix+k
		f, ok := fields[k]
		if !ok {
			*ps = append(*ps, Problem{Key: full, Msg: "unknown key"})
			continue
		}
		if err := set(f, raw, full, ps); err != nil {
			*ps = append(*ps, Problem{Key: full, Msg: err.Error()})
		}
	}
}

func set(f reflect.Value, raw any, full string, ps *Problems) error {
	switch f.Interface().(type) {
	case Duration:
		d, err := parseDuration(raw)
		if err == nil {
			f.Set(reflect.ValueOf(d))
		}
		return err
	case ByteSize:
		b, err := parseByteSize(raw)
		if err == nil {
			f.Set(reflect.ValueOf(b))
		}
		return err
	}
	switch f.Kind() {
	case reflect.Struct:
		tbl, ok := raw.(map[string]any)
		if !ok {
			return fmt.Errorf("want a table [%s], got %T", full, raw)
		}
		assign(f, tbl, full+".", ps)
	case reflect.String:
		s, ok := raw.(string)
		if !ok {
			return fmt.Errorf("want a string, got %T", raw)
		}
		f.SetString(s)
	case reflect.Float64:
		switch n := raw.(type) {
		case float64:
			f.SetFloat(n)
		case int64:
			f.SetFloat(float64(n))
		default:
			return fmt.Errorf("want a number, got %T", raw)
		}
	case reflect.Int, reflect.Int64:
		n, ok := raw.(int64)
		if !ok {
			return fmt.Errorf("want an integer, got %T", raw)
		}
		f.SetInt(n)
	case reflect.Bool:
		b, ok := raw.(bool)
		if !ok {
			return fmt.Errorf("want true or false, got %T", raw)
		}
		f.SetBool(b)
	case reflect.Slice:
		items, ok := raw.([]any)
		if !ok {
			return fmt.Errorf("want a list, got %T", raw)
		}
		out := reflect.MakeSlice(f.Type(), len(items), len(items))
		for i, it := range items {
			if err := set(out.Index(i), it, fmt.Sprintf("%s[%d]", full, i), ps); err != nil {
				return fmt.Errorf("item %d: %w", i, err)
			}
		}
		f.Set(out)
	case reflect.Pointer: // a key that may be left out, apart from its zero value
		elem := reflect.New(f.Type().Elem())
		if err := set(elem.Elem(), raw, full, ps); err != nil {
			return err
		}
		f.Set(elem)
	case reflect.Map:
		tbl, ok := raw.(map[string]any)
		if !ok {
			return fmt.Errorf("want a table, got %T", raw)
		}
		m := reflect.MakeMapWithSize(f.Type(), len(tbl))
		keys := make([]string, 0, len(tbl))
		for k := range tbl {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			elem := reflect.New(f.Type().Elem()).Elem()
			if err := set(elem, tbl[k], full+"."+quoteKey(k), ps); err != nil {
				return fmt.Errorf("%s: %w", quoteKey(k), err)
			}
			m.SetMapIndex(reflect.ValueOf(k), elem)
		}
		f.Set(m)
	default:
		return fmt.Errorf("unsupported field kind %s", f.Kind())
	}
	return nil
}

// quoteKey writes a table key as TOML needs it in a dotted key.
func quoteKey(k string) string {
	for _, r := range k {
		if !(r == '_' || r == '-' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z') {
			return strconv.Quote(k)
		}
	}
	return k
}

// keyLines maps each dotted key of a TOML document to the line it is set on. It
// understands the subset Postern's configuration uses: [tables] and key = value lines.
func keyLines(src []byte) map[string]int {
	lines := map[string]int{}
	table := ""
	sc := bufio.NewScanner(bytes.NewReader(src))
	sc.Buffer(make([]byte, 64*1024), 1<<20)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		switch {
		case line == "" || strings.HasPrefix(line, "#"):
		case strings.HasPrefix(line, "["):
			// Not unquoted: table names with quoted parts (dnsbl.zone."zen.spamhaus.org")
			// are keyed as Validate writes them.
			table = strings.TrimSpace(strings.Trim(line, "[]"))
			if _, seen := lines[table]; !seen {
				lines[table] = n
			}
		default:
			k, _, ok := strings.Cut(line, "=")
			if !ok {
				continue
			}
			k = strings.Trim(strings.TrimSpace(k), `"`)
			if table != "" {
				k = table + "." + k
			}
			if _, seen := lines[k]; !seen {
				lines[k] = n
			}
		}
	}
	return lines
}

// reloadable are the keys serve applies on SIGHUP: the rules, the lists, the
// settings that turn the checks' results into a verdict (cmd/postern's
// verdictPolicy), and the content and envelope checks' settings (cmd/postern's
// checks and newPolicy), which hold no state of their own. What opens a
// connection, a store or a socket (greylist.enabled, [dns], clamd.address,
// [storage], bayes.enabled) waits for a restart, and so does auth.enabled,
// whose removal of forged Authentication-Results headers is set up at start.
var reloadable = map[string]bool{
	"required_score": true, "reject_score": true, "on_error": true, "check_timeout": true,
	"report_header": true, "subject_tag": true, "log_level": true, "log_format": true,
	"rules_paths": true, "recipients": true, "milter.shutdown_timeout": true,
	"policy.allow_lists": true, "policy.deny_lists": true, "policy.allow_skips_content": true,
	"policy.role_accounts": true, "policy.trusted_networks": true,
	"greylist.delay": true, "greylist.retry_window": true, "greylist.expire": true, "greylist.auto_allow_after": true,
	"greylist.ipv4_prefix": true, "greylist.ipv6_prefix": true, "greylist.allow_lists": true,
	"dnsbl.zones": true, "dnsbl.zone": true,
	"auth.authserv_id": true, "auth.spf_reject_fail": true, "auth.dmarc_reject": true, "auth.max_signatures": true, "auth.trusted_arc_sealers": true,
	"uribl.zones": true, "uribl.ip_zones": true, "uribl.scores": true, "uribl.zone": true, "uribl.ns_zones": true, "uribl.ns_zone": true, "uribl.max_domains": true,
	"limits.memory_spool": true, "limits.spool_dir": true, "limits.max_message_size": true,
	"limits.scan_limit": true, "limits.on_too_large": true,
	"clamd.timeout": true, "clamd.scan_whole_message": true, "clamd.on_scan_error": true, "clamd.on_too_large": true,
	"attachments.enabled": true, "attachments.extensions": true, "attachments.types": true,
	"attachments.executables": true, "attachments.inside_archives": true, "attachments.active_svg": true, "attachments.exempt_rcpts": true,
	"bayes.autolearn_spam": true, "bayes.autolearn_ham": true, "bayes.autolearn_veto": true,
	"bayes.points_per_log_odds": true, "bayes.min_points": true, "bayes.max_points": true,
	"bayes.min_spam": true, "bayes.min_ham": true, "bayes.learn_margin": true, "bayes.refresh": true, "bayes.max_tokens": true,
	// release_relay is read by the postern quarantine command each time, not by serve.
	"quarantine.spam": true, "quarantine.virus": true, "quarantine.retention": true, "quarantine.release_relay": true,
	"replies.spam": true, "replies.virus": true, "replies.tempfail": true, "replies.too_large": true, "replies.banned": true,
}

// Reloads says whether serve applies a change to key (as Changed names it) on
// SIGHUP; any other key's change waits for a restart.
func Reloads(key string) bool { return reloadable[key] }

// Reloaded is next with every key that waits for a restart (not Reloads) set
// back to started's value. serve builds what a SIGHUP changes from it, so that
// no part can take up a value only a restart may apply: auth.enabled, say,
// turns on the Authentication-Results header, and the removal of forged ones
// that goes with it is set up at start.
func Reloaded(started, next Config) Config {
	out := next
	from := fields(reflect.ValueOf(started))
	for i, kv := range fields(reflect.ValueOf(&out).Elem()) {
		if !Reloads(kv.key) {
			kv.v.Set(from[i].v)
		}
	}
	return out
}

// Changed lists the keys whose values differ between a and b, as the
// configuration file names them ("required_score", "clamd.address",
// "recipients"): a section's keys one by one, a table of tables (recipients,
// dnsbl.zone) as one. serve's SIGHUP says by it which changes wait for a
// restart.
func Changed(a, b Config) []string {
	var out []string
	vb := values(b)
	for i, kv := range values(a) {
		if !reflect.DeepEqual(kv.v.Interface(), vb[i].v.Interface()) {
			out = append(out, kv.key)
		}
	}
	return out
}

// Keys are the configuration's keys, as Changed names them.
func Keys() []string {
	var out []string
	for _, kv := range values(Default()) {
		out = append(out, kv.key)
	}
	return out
}

type keyValue struct {
	key string
	v   reflect.Value
}

// values are c's keys and values in the order of its fields.
func values(c Config) []keyValue { return fields(reflect.ValueOf(c)) }

// fields are the keys and values of v, a Config: a top-level key's field, or
// each of a section's; settable when v is.
func fields(v reflect.Value) []keyValue {
	var out []keyValue
	t := v.Type()
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		name := tomlName(f)
		if f.Type.Kind() != reflect.Struct {
			out = append(out, keyValue{name, v.Field(i)})
			continue
		}
		for j := 0; j < f.Type.NumField(); j++ {
			out = append(out, keyValue{name + "." + tomlName(f.Type.Field(j)), v.Field(i).Field(j)})
		}
	}
	return out
}

func tomlName(f reflect.StructField) string {
	name, _, _ := strings.Cut(f.Tag.Get("toml"), ",")
	return name
}
