// Package config is Postern's one configuration struct: its defaults, its TOML file and
// its validation. Every key is documented in the struct's `doc` tags, from which
// docs/configuration.md is generated, so the reference cannot drift from the code.
package config

import (
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/postern/postern/banned"
	"github.com/postern/postern/internal/clamdaddr"
	"github.com/postern/postern/recipients"
	"github.com/postern/postern/resolver"
)

// DefaultPath is where Postern looks for its configuration file when -c is not given.
const DefaultPath = "/etc/postern/postern.toml"

// Config is the whole configuration. Field order is the order of docs/configuration.md.
type Config struct {
	DataDir       string               `toml:"data_dir" doc:"Directory that holds every database file (Bayes, quarantine, greylist) unless [storage] url names a PostgreSQL database, and automata.cache, the states the rules' DFAs learned (a cache: deleting it costs only the time to learn them again). Created if missing."`
	RequiredScore float64              `toml:"required_score" doc:"Score at or above which a message is spam: it gets X-Spam-Flag: YES and X-Spam-Status: Yes."`
	RejectScore   float64              `toml:"reject_score" doc:"Score at or above which a message is rejected during SMTP with 550 5.7.1."`
	OnError       string               `toml:"on_error" doc:"What an internal failure (a check's error, the deadline, a panic, a spool error) does: \"tempfail\" answers 451 4.7.1 so the sender retries; \"accept\" delivers the message with an X-Postern-Skipped header naming what was not checked."`
	CheckTimeout  Duration             `toml:"check_timeout" doc:"Deadline for all content checks of one message together. Keep it well below Postfix's milter_content_timeout."`
	ReportHeader  string               `toml:"report_header" doc:"When to add the X-Spam-Report header: \"never\", \"spam\" or \"always\"."`
	SubjectTag    string               `toml:"subject_tag" doc:"Text put in front of the Subject of a message delivered as spam (score at or above required_score, below reject_score), for readers whose mail program cannot sort by X-Spam-Flag: e.g. \"***SPAM***\" (amavisd-new's sa_spam_subject_tag, SpamAssassin's rewrite_header Subject). _SCORE_ and _REQD_ in it are the score and required_score. A Subject that starts with it already is left alone; a message without one gets one. Empty: the Subject is never changed."`
	LogLevel      string               `toml:"log_level" doc:"Log level: \"debug\", \"info\", \"warn\" or \"error\"."`
	LogFormat     string               `toml:"log_format" doc:"Log format: \"text\" (logfmt) or \"json\"."`
	RulesPaths    []string             `toml:"rules_paths" doc:"Rule files and directories (*.cf) in SpamAssassin's syntax, read in order; later ones override scores and definitions. \"stock\" is SpamAssassin's stock rules where the system has them: the newest sa-update directory (/var/lib/spamassassin/VERSION/updates_spamassassin_org), else Debian's /usr/share/spamassassin (package spamassassin), else nothing; serve and 'postern rules lint' say which. \"default\" is Postern's own set; GTUBE is always built in. SIGHUP reloads them, and on any error the old rules stay."`
	Recipients    map[string]Recipient `toml:"recipients" doc:"Recipients' own settings, by address or domain: [recipients.\"@customer.example\"], [recipients.\"ceo@example.org\"], or [recipients.\"@.customer.example\"] for the domain's subdomains (as Postfix reads .customer.example: not the domain itself), with any of required_score, reject_score and subject_tag, which replace the global ones for their mail (a key left out keeps the global value). An address's entry wins over its domain's, a domain's over its parents' (the nearest first); user+ext@ falls under user@'s. A reject_score no message reaches (10000: GTUBE scores 1000) makes its recipients spam lovers: their spam is tagged, never refused. One reply at end of data answers for all of a message's recipients, so a recipient whose entry differs from the first accepted recipient's is answered 452 4.5.3 at RCPT TO, and the sender's MTA sends it again in a message of its own (Postfix at its next queue run); the same holds for role accounts and [attachments] exempt_rcpts (docs/policy.md)."`

	Milter      Milter      `toml:"milter" doc:"The milter listener Postfix connects to (smtpd_milters)."`
	Policy      Policy      `toml:"policy" doc:"Envelope checks at RCPT TO, before any content is sent (docs/policy.md): allow and deny lists, role accounts, trusted networks. Block lists and greylisting have their own sections."`
	Greylist    Greylist    `toml:"greylist" doc:"Greylisting of (client network, sender, recipient) triplets at RCPT TO, with postgrey's defaults; state in data_dir/greylist.db, or the [storage] database."`
	DNS         DNS         `toml:"dns" doc:"The DNS resolver every DNS check uses (block lists, URI block lists). With no resolver set, Postern sends no DNS query at all, and serve says so at start."`
	DNSBL       DNSBL       `toml:"dnsbl" doc:"DNS block lists of client addresses, queried at connect and decided at RCPT TO. A lookup that fails or times out never rejects: it adds nothing, and is logged and counted."`
	Auth        Auth        `toml:"auth" doc:"Sender authentication (docs/authentication.md): SPF at MAIL FROM, DKIM and DMARC at end of data, one Authentication-Results header, and pseudo-rules (SPF_PASS, DKIM_VALID, DMARC_REJECT, …) scored as SpamAssassin's network score set does; a score line in your rule files overrides them. Off by default, since it needs DNS ([dns] resolver): serve says so at start."`
	URIBL       URIBL       `toml:"uribl" doc:"URI block lists (domain lists, e.g. dbl.spamhaus.org, multi.surbl.org): the domains of links in the body add points to the content score. Failed lookups add nothing."`
	Metrics     Metrics     `toml:"metrics" doc:"Prometheus metrics at /metrics: messages by action and reason, check times (a message's checks together, postern_check_seconds, and each step apart, postern_check_step_seconds by step: parse, rules, bayes, clamav, clamav_wait (clamav's time waiting for a free clamd connection), …), the quarantine copy's write before a refusal's answer (postern_quarantine_write_seconds), sizes, clamd's health (PING every 30 s), Bayes and rules counts, the memory of the rules' DFAs (postern_rules_dfa_bytes), envelope decisions, whether the last SIGHUP applied the whole configuration (postern_config_last_reload_successful, and the time of the last that did). On the same listener: GET /healthz (200 \"ok\" when clamd, if configured, and every database answer; 503 with one line per failure otherwise) and GET /stats?since=24h (hourly counts of the last 7 days, which 'postern stats' prints)."`
	Limits      Limits      `toml:"limits" doc:"Message size limits and spooling."`
	Clamd       Clamd       `toml:"clamd" doc:"Virus scanning with ClamAV's daemon. Scanning is on when address is set; without it, serve says at start that virus scanning is off."`
	Attachments Attachments `toml:"attachments" doc:"Banned attachments (docs/attachments.md): mail carrying a program, a script or a shortcut Windows runs when it is opened is refused with 550 5.7.1 naming the file, and kept in the quarantine as a virus is ([quarantine] virus). Judged by the file's name, its declared type, its content and the names inside ZIP, RAR, 7-Zip and tar archives and gzip files (and the archives they hold); no virus signature is needed, and an encrypted archive's names are readable. A role account's mail is delivered marked X-Postern-Banned instead; allow-listed senders are checked too."`
	Bayes       Bayes       `toml:"bayes" doc:"The Bayesian classifier: its store is data_dir/bayes.db (or the [storage] database); 'postern learn' teaches it."`
	Quarantine  Quarantine  `toml:"quarantine" doc:"The quarantine: a copy of every rejected or held message, in data_dir/quarantine.db (or the [storage] database), for 'postern quarantine'."`
	Storage     Storage     `toml:"storage" doc:"Where the Bayes, quarantine and greylisting state lives: SQLite files in data_dir (the default), or one PostgreSQL database that several Postern nodes share (docs/scaling.md). serve, learn, check and every CLI command use the same."`
	Replies     Replies     `toml:"replies" doc:"Texts of the SMTP replies. {ref} is replaced by the message's reference id, which the logs (and the quarantine) can find. Keep them generic: they are shown to senders."`
}

// Milter configures the listener.
type Milter struct {
	Listen          string   `toml:"listen" doc:"Where to listen, in Postfix's notation: \"inet:HOST:PORT\" or \"unix:PATH\". Use the same string in Postfix's smtpd_milters."`
	ShutdownTimeout Duration `toml:"shutdown_timeout" doc:"On SIGTERM, how long messages in flight may take to finish before their connections are closed (Postfix then applies milter_default_action)."`
}

// Policy configures the envelope checks.
type Policy struct {
	AllowLists        []string `toml:"allow_lists" doc:"Allow-list files (docs/policy.md for the format: client address, network or host name, helo, from, rcpt; postgrey's whitelist_clients files work as they are). An allowed client, HELO or sender skips block lists and greylisting; an allowed recipient too. Allow wins over deny. SIGHUP reloads them; on any error the old lists stay."`
	DenyLists         []string `toml:"deny_lists" doc:"Deny-list files, same format: a match is refused at RCPT TO with 554 5.7.1 (role accounts excepted)."`
	AllowSkipsContent bool     `toml:"allow_skips_content" doc:"An allow-listed client, HELO or sender also skips content scoring (rules and Bayes). Virus scanning always runs."`
	RoleAccounts      []string `toml:"role_accounts" doc:"Recipients always accepted (RFC 5321 4.5.1, RFC 2142): local parts (\"postmaster\") or whole addresses. No list, block list or greylisting applies to them, and a message to one of them is tagged, never rejected, for its content (a virus too: it is delivered marked X-Virus-Status: Infected). So that adding postmaster@ to its recipients does not get spam to the others tagged instead of refused, a role account is never in one message with other recipients: the later kind is answered 452 4.5.3 at RCPT TO, and the sender sends it again in a message of its own (as for recipients)."`
	TrustedNetworks   []string `toml:"trusted_networks" doc:"Client networks no envelope check applies to (as Postfix's mynetworks): content is still checked. Clients that authenticated (SASL) are treated the same."`
}

// Greylist configures greylisting.
type Greylist struct {
	Enabled        bool     `toml:"enabled" doc:"Greylist. Off by default: it delays a new correspondent's first message by delay or more."`
	Delay          Duration `toml:"delay" doc:"A triplet is accepted when retried this long after its first attempt; until then 450 4.7.1 with the seconds left."`
	RetryWindow    Duration `toml:"retry_window" doc:"A first retry later than this after the first attempt starts over."`
	Expire         Duration `toml:"expire" doc:"Records not seen for this long are deleted (serve expires hourly)."`
	AutoAllowAfter int      `toml:"auto_allow_after" doc:"A client address whose triplets passed this many times (counted at most once an hour) is no longer greylisted; 0: never."`
	IPv4Prefix     int      `toml:"ipv4_prefix" doc:"IPv4 clients are grouped by this network size: senders that retry from another address of their pool still match."`
	IPv6Prefix     int      `toml:"ipv6_prefix" doc:"IPv6 clients are grouped by this network size."`
	AllowLists     []string `toml:"allow_lists" doc:"Lists of what skips greylisting only (same format as policy.allow_lists): senders known to retry badly (contrib/greylist-allow.list ships some; Debian's postgrey package has /usr/share/postgrey/whitelist_clients), and rcpt lines for recipients that opt out."`
}

// DNS configures the resolver.
type DNS struct {
	Resolver  string   `toml:"resolver" doc:"HOST:PORT of a caching resolver to send every query to, e.g. \"127.0.0.1:53\" (unbound). Public resolvers are refused by most block lists. Empty: no DNS checks."`
	Timeout   Duration `toml:"timeout" doc:"Deadline of one query. A list that has not answered by then adds nothing."`
	CacheSize int      `toml:"cache_size" doc:"Answers kept in memory (for their TTL, at most an hour); 0: none."`
}

// DNSBL configures the client block lists.
type DNSBL struct {
	Zones []string             `toml:"zones" doc:"Block-list zones to query the client's address in (IPv4 and IPv6, RFC 5782). A zone with no [dnsbl.zone.\"NAME\"] table rejects every client it lists with 554 5.7.1 at RCPT TO."`
	Zone  map[string]DNSBLZone `toml:"zone" doc:"Per-zone settings, [dnsbl.zone.\"zen.spamhaus.org\"]: test (the name shown in X-Spam-Status and logs, default DNSBL_ and the zone's first label), reject (return codes that reject: \"127.0.0.2\", \"127.0.0.2-127.0.0.9\", \"127.0.0.8/30\", or a bitmask, \"2\", for lists that answer in bits), scores (return code → points added to the content score, e.g. { \"127.0.0.10-127.0.0.11\" = 1.5 }). With only scores, the zone never rejects. Answers outside 127/8, 127.0.0.1 and 127.255.255.x (\"query refused\") never count."`
}

// DNSBLZone is one zone's settings.
type DNSBLZone struct {
	Test   string             `toml:"test"`
	Reject []string           `toml:"reject"`
	Scores map[string]float64 `toml:"scores"`
}

// Auth configures sender authentication.
type Auth struct {
	Enabled           bool     `toml:"enabled" doc:"Check SPF, DKIM and DMARC (all together). A DNS failure is temperror in the header and never a reject."`
	AuthservID        string   `toml:"authserv_id" doc:"The authserv-id of the Authentication-Results header (RFC 8601), usually the host name. Such a header that arrives claiming this id is removed as forged. Empty: the host name."`
	SPFRejectFail     bool     `toml:"spf_reject_fail" doc:"Refuse a sender whose domain's SPF record says fail, with 550 5.7.23 at RCPT TO (role accounts excepted). Off: forwarded mail fails SPF, and DMARC weighs SPF with DKIM far better."`
	DMARCReject       bool     `toml:"dmarc_reject" doc:"Refuse a message that fails DMARC when its From domain publishes p=reject (550 5.7.1, kept in the quarantine like every rejected message). Off: it scores DMARC_REJECT."`
	MaxSignatures     int      `toml:"max_signatures" doc:"DKIM signatures verified per message, at most (each costs a key lookup); the rest are ignored."`
	TrustedARCSealers []string `toml:"trusted_arc_sealers" doc:"ARC sealers (RFC 8617) whose chain is believed: a message that fails DMARC, with a valid ARC chain whose newest seal is by one of these domains (or a domain under them) and whose first set recorded dmarc=pass, was broken by a mailing list or forwarder, not forged, and its domain's DMARC policy is not applied. E.g. [\"google.com\", \"lists.debian.org\"]."`
}

// URIBL configures the URI block lists.
type URIBL struct {
	Zones      []string             `toml:"zones" doc:"Domain block-list zones the registered domains of the body's links are looked up in."`
	IPZones    []string             `toml:"ip_zones" doc:"Address block-list zones (e.g. zen.spamhaus.org, for its SBL) the addresses of the body's links' host names are looked up in, as SpamAssassin's URIBL_SBL_A: at most four public IPv4 addresses (A records) a host, the hosts counted by max_domains. Set [uribl.zone] scores for them (SBL's 127.0.0.2, say): without a table any listing adds the zone's points."`
	NSZones    []string             `toml:"ns_zones" doc:"Address block-list zones (e.g. zen.spamhaus.org, for its SBL) the addresses of the name servers of the body's links' registered domains are looked up in, as SpamAssassin's URIBL_SBL: a spammer's throwaway domains share the name servers the spammer runs. At most four name servers a domain and four public IPv4 addresses each, as many name servers in all as max_domains. A zone may be in ip_zones too; its settings here are [uribl.ns_zone.\"NAME\"] tables, as [uribl.zone]'s (test, default URIBL_ and the zone's first label and _NS; scores)."`
	Scores     map[string]float64   `toml:"scores" doc:"Points per zone when it lists a domain, whatever its return code, e.g. { \"dbl.spamhaus.org\" = 2.5 }; a zone named neither here nor in a [uribl.zone] table adds 2.0."`
	Zone       map[string]URIBLZone `toml:"zone" doc:"Per-zone settings, [uribl.zone.\"multi.uribl.com\"]: test (the name shown in X-Spam-Status, default URIBL_ and the zone's first label), scores (return code → points, e.g. { \"127.0.1.2-127.0.1.99\" = 2.5, \"127.0.1.102-127.0.1.199\" = 0.5 } for dbl.spamhaus.org's own listings and its compromised sites, or bitmasks for lists that answer in bits, { \"2\" = 1.7, \"4\" = 0.3 } for multi.uribl.com's black and grey). A code no entry names adds nothing; the highest entry the message's domains reach counts, once. Answers outside 127/8, 127.0.0.1 and 127.255.255.x (\"query refused\") never count."`
	NSZone     map[string]URIBLZone `toml:"ns_zone" doc:"Per-zone settings of the ns_zones, [uribl.ns_zone.\"zen.spamhaus.org\"], as [uribl.zone]'s: test, scores."`
	MaxDomains int                  `toml:"max_domains" doc:"The most distinct domains of one message looked up (the first in the body), and as many host names for ip_zones and name servers for ns_zones."`
}

// URIBLZone is one URI block list's settings.
type URIBLZone struct {
	Test   string             `toml:"test"`
	Scores map[string]float64 `toml:"scores"`
}

// Metrics configures the metrics endpoint.
type Metrics struct {
	Listen string `toml:"listen" doc:"HOST:PORT for http://HOST:PORT/metrics. Empty: no endpoint."`
}

// Limits configures sizes and the spool.
type Limits struct {
	MemorySpool    ByteSize `toml:"memory_spool" doc:"A message is held in memory up to this size, then in a temporary file that is always removed."`
	SpoolDir       string   `toml:"spool_dir" doc:"Directory for the temporary files of large messages. Empty: the system's temporary directory."`
	MaxMessageSize ByteSize `toml:"max_message_size" doc:"Hard cap on a message's size: larger messages are answered 552 5.3.4."`
	ScanLimit      ByteSize `toml:"scan_limit" doc:"Messages larger than this are not scored (rules, Bayes), as amavisd-new passes big mail by SpamAssassin: the virus scan, the banned-attachment check and DKIM/DMARC still read them, so padding a message carries neither malware nor a forged From past them (DMARC's points count, as the envelope's do); on_too_large says what happens to them."`
	OnTooLarge     string   `toml:"on_too_large" doc:"Messages over scan_limit: \"accept\" delivers them, unless a virus or a banned file is found, with an X-Postern-Skipped header (content scoring …) and reason unscanned in the log; \"tempfail\" answers 451 4.7.1 without reading them."`
}

// Clamd configures virus scanning.
type Clamd struct {
	Address          string   `toml:"address" doc:"clamd's socket: \"tcp://HOST:PORT\" or \"unix:PATH\" (Debian's clamav-daemon: \"unix:/var/run/clamav/clamd.ctl\"). Empty: no virus scanning."`
	Timeout          Duration `toml:"timeout" doc:"Deadline of one scan call to clamd; check_timeout bounds all of a message's scans together."`
	MaxConnections   int      `toml:"max_connections" doc:"Scans in flight at once, over all messages; 0 means 2 × the number of CPU cores. Keep it at or below clamd.conf's MaxThreads. The time scans waited for one is clamav_wait in the log's check_times."`
	StreamMaxLength  ByteSize `toml:"stream_max_length" doc:"clamd.conf's StreamMaxLength (clamd's default 25M): what lies beyond it in a part is not scanned, and on_too_large decides."`
	ScanWholeMessage bool     `toml:"scan_whole_message" doc:"Also stream the raw message, so clamd's own mail parser and phishing signatures see it as sent. Every decoded part is streamed too, but for a part without a transfer encoding: its bytes are in the message as they are, and clamd scans them there (docs/clamav.md)."`
	OnScanError      string   `toml:"on_scan_error" doc:"clamd down, refusing, timing out or answering garbage: \"tempfail\" answers 451 4.7.1; \"accept\" delivers with X-Virus-Status: Unscanned (reason)."`
	OnTooLarge       string   `toml:"on_too_large" doc:"A part larger than stream_max_length: \"accept\" delivers with X-Virus-Status: Unscanned (exceeds StreamMaxLength …); \"tempfail\" answers 451 4.7.1."`
}

// Attachments configures the banned-attachment check.
type Attachments struct {
	Enabled        bool     `toml:"enabled" doc:"Refuse mail with a banned attachment."`
	Extensions     []string `toml:"extensions" doc:"Banned file name extensions: a file's last one, case ignored, and trailing dots and spaces ignored, as Windows ignores them (\"invoice.pdf.exe. \" is a program). Both names a part's header may give are read (Content-Disposition's filename, Content-Type's name). The default is Gmail's list of the types it refuses, so a sender who meets it here has met it there. Setting it replaces the list: copy the default's entries you want to keep."`
	Types          []string `toml:"types" doc:"Banned declared MIME types (Content-Type, without parameters)."`
	Executables    bool     `toml:"executables" doc:"Ban Windows programs (PE files) by their content, whatever their name and type."`
	InsideArchives bool     `toml:"inside_archives" doc:"Ban a ZIP archive (told by its content, whatever its name) that holds a file with a banned extension, read from the archive's directory: encrypted archives too, which no virus scanner can open. The same for a RAR archive (RAR 5 and 1.5–4; the names precede each file's data), a 7-Zip archive (its directory unpacked; a file only to read an archive or SVG image in it, from LZMA2, LZMA, Deflate, BZip2 or stored blocks of up to 8 MB), a tar archive (gzipped too: .tgz, .tar.gz), and a gzip file whose content is named so (the name its header keeps, or its own without .gz). An archive inside a ZIP, tar, 7-Zip or RAR 5 archive (RAR 5's within its first 4 MB), by a name a double click unpacks (.zip, .rar, .7z, .tar, .tgz, .gz), is read the same way, and so are the archives it holds, down to eight levels (docs/attachments.md)."`
	ActiveSVG      bool     `toml:"active_svg" doc:"Ban an SVG image (told by its name, its type or its content; in a ZIP, tar, 7-Zip or RAR 5 archive, by its name, with inside_archives) that runs script or holds a web page: a <script> element, an on… event attribute, a javascript: or data:text/html link, or an embedded <iframe>, <embed>, <object> or <form>. Opened from mail, an SVG shows in the web browser, which runs its script as a page's; phishing mails them because .svg is an image's extension that lists of programs do not name. Drawings exported from design and charting programs have none of these (docs/attachments.md)."`
	ExemptRcpts    []string `toml:"exempt_rcpts" doc:"Recipients who take banned files (an IT department, a malware analyst): addresses (user+ext@ falls under user@), \"@domain\" for a whole domain, or \"@.domain\" for its subdomains. Their mail is delivered marked X-Postern-Banned, as a role account's is. They are never in one message with recipients who do not take banned files: one reply at end of data answers for all recipients, so a later recipient of the other kind is answered 452 4.5.3 at RCPT TO and sent again in a message of its own (as for recipients)."`
}

// Bayes configures the classifier.
type Bayes struct {
	Enabled       bool     `toml:"enabled" doc:"Classify every message and add the BAYES_xx pseudo-rule its spam probability falls in."`
	MinSpam       int      `toml:"min_spam" doc:"Cold start: no Bayes score until this many spam messages are learned …"`
	MinHam        int      `toml:"min_ham" doc:"… and this many ham messages."`
	Autolearn     bool     `toml:"autolearn" doc:"Learn clear cases automatically (the score without Bayes and without noautolearn rules decides)."`
	AutolearnSpam float64  `toml:"autolearn_spam" doc:"Learn as spam at or above this score."`
	AutolearnHam  float64  `toml:"autolearn_ham" doc:"Learn as ham at or below this score."`
	AutolearnVeto float64  `toml:"autolearn_veto" doc:"Autolearn only what Bayes agrees with: not as ham when its spam probability is this or more, not as spam when it is 1 - this or less, and nothing while Bayes is in cold start (autolearn=no). With few rules most spam scores 0 and would otherwise be learned as ham (docs/bayes.md). 0 turns the veto off: the rules alone decide, as in SpamAssassin."`
	PerLogOdds    float64  `toml:"points_per_log_odds" doc:"How much the Bayes probability p weighs in the score: this many points per unit of its log-odds, ln(p/(1-p)), between min_points and max_points (p = 0.5 adds 0; each tenfold in the odds adds 2.3 times this). The BAYES_xx name of p's range shows them in X-Spam-Status; an operator's score line for that name (score BAYES_99 3.5) wins. 0: SpamAssassin's fixed BAYES_xx scores (BAYES_99 3.5). The default is measured in docs/accuracy.md."`
	MinPoints     float64  `toml:"min_points" doc:"The fewest points Bayes adds (a negative number: ham-like mail is pulled down at most this far)."`
	MaxPoints     float64  `toml:"max_points" doc:"The most points Bayes adds. Below reject_score, so that Bayes alone never has a message refused: a 5xx needs some evidence of the rules too."`
	LearnMargin   float64  `toml:"learn_margin" doc:"Once out of cold start, autolearn and 'postern learn' pass over a message Bayes already gives its class with at least 1 - learn_margin certainty: learning what it is sure of only makes it surer, and the bulk of easy mail then outweighs the informative messages (train on or near error, docs/bayes.md). 0 learns every message, as sa-learn does."`
	Trigrams      bool     `toml:"trigrams" doc:"Learn and classify by character trigrams of the body text as well as by words: more spam caught at the same ham loss (98.2 % against 96.8 % at 0.1 %, 1 - AUC halved, docs/accuracy.md), for about 60 % of the classification speed of words alone, three quarters of the learning speed, and a store about a sixth larger (docs/benchmarks.md). Turn it off only for a store trained without it, or for the last bit of speed. A store trained under the other setting is not what was measured: a message learned before stays 'already known', so after changing this relearn the training mail into a new store ('postern bayes stats' and serve warn of a mismatch). Forgetting a message learned under the other setting misses some of its tokens."`
	MaxTokens     int      `toml:"max_tokens" doc:"Expire the rarest, oldest tokens when the store holds more than this (checked daily by serve)."`
	Refresh       Duration `toml:"refresh" doc:"How often serve picks up what 'postern learn' (or another node) taught the store."`
}

// Quarantine configures what is kept and for how long.
type Quarantine struct {
	Spam         string   `toml:"spam" doc:"Spam at or above reject_score: \"reject-and-keep\" (550 naming the kept copy), \"hold\" (keep a copy, accept into Postfix's hold queue) or \"reject\" (keep nothing)."`
	Virus        string   `toml:"virus" doc:"Viruses and banned attachments ([attachments]): \"reject-and-keep\", \"hold\" or \"reject\", as for spam."`
	Retention    Duration `toml:"retention" doc:"serve purges records older than this (\"30d\", \"720h\")."`
	ReleaseRelay string   `toml:"release_relay" doc:"HOST:PORT of an SMTP server without milters that 'postern quarantine release' re-injects messages to (docs/postfix.md). Empty: release is not possible."`
}

// Storage selects the stores' backend.
type Storage struct {
	URL string `toml:"url" doc:"Empty: SQLite in data_dir. \"postgres://USER:PASSWORD@HOST:PORT/DB?sslmode=…\": PostgreSQL (pgx's URL; pool_max_conns=N sets each store's pool size). Tables are created and migrated at start. A database that fails or does not answer tempfails the messages that need it (451), and serve recovers by itself when it returns. 'postern migrate' copies state between the two."`
}

// Recipient is one [recipients."KEY"] entry; a key left out keeps the global value.
type Recipient struct {
	RequiredScore *float64 `toml:"required_score"`
	RejectScore   *float64 `toml:"reject_score"`
	SubjectTag    *string  `toml:"subject_tag"`
}

// RecipientSettings are the [recipients] entries as package recipients takes them.
func (c Config) RecipientSettings() map[string]recipients.Settings {
	m := make(map[string]recipients.Settings, len(c.Recipients))
	for k, r := range c.Recipients {
		m[k] = recipients.Settings{RequiredScore: r.RequiredScore, RejectScore: r.RejectScore, SubjectTag: r.SubjectTag}
	}
	return m
}

// Replies holds the reply texts. The SMTP and enhanced status codes are fixed.
type Replies struct {
	Spam     string `toml:"spam" doc:"Text after 550 5.7.1 for spam."`
	Virus    string `toml:"virus" doc:"Text after 554 5.7.1 for a virus. {virus} is replaced by the signature name."`
	TempFail string `toml:"tempfail" doc:"Text after 451 4.7.1 for temporary failures."`
	TooLarge string `toml:"too_large" doc:"Text after 552 5.3.4 for messages over max_message_size."`
	Banned   string `toml:"banned" doc:"Text after 550 5.7.1 for a banned attachment. {name} is replaced by the file's name (the archive's, for a file inside one)."`
}

// Default returns the built-in defaults; a configuration file overrides them key by key.
func Default() Config {
	return Config{
		DataDir:       "/var/lib/postern",
		RequiredScore: 5.0,
		RejectScore:   15.0,
		OnError:       "tempfail",
		CheckTimeout:  Duration(60 * time.Second),
		ReportHeader:  "spam",
		LogLevel:      "info",
		LogFormat:     "text",
		RulesPaths:    []string{"stock", "default"},
		Milter: Milter{
			Listen:          "inet:127.0.0.1:8895",
			ShutdownTimeout: Duration(30 * time.Second),
		},
		Policy: Policy{
			RoleAccounts:    []string{"postmaster", "abuse"},
			TrustedNetworks: []string{"127.0.0.0/8", "::1/128"},
		},
		Greylist: Greylist{
			Delay: Duration(300 * time.Second), RetryWindow: Duration(48 * time.Hour),
			Expire: Duration(35 * 24 * time.Hour), AutoAllowAfter: 5, IPv4Prefix: 24, IPv6Prefix: 64,
		},
		DNS:   DNS{Timeout: Duration(2 * time.Second), CacheSize: 10000},
		Auth:  Auth{MaxSignatures: 5},
		URIBL: URIBL{MaxDomains: 20},
		Limits: Limits{
			MemorySpool:    1 << 20,
			MaxMessageSize: 50 << 20,
			ScanLimit:      20 << 20,
			OnTooLarge:     "accept",
		},
		Clamd: Clamd{
			Timeout:          Duration(30 * time.Second),
			StreamMaxLength:  25 << 20,
			ScanWholeMessage: true,
			OnScanError:      "tempfail",
			OnTooLarge:       "accept",
		},
		Attachments: Attachments{
			Enabled:    true,
			Extensions: slices.Clone(banned.DefaultExtensions), Types: slices.Clone(banned.DefaultTypes),
			Executables: true, InsideArchives: true, ActiveSVG: true,
		},
		Bayes: Bayes{
			Enabled: true, MinSpam: 200, MinHam: 200, LearnMargin: 0.01, Trigrams: true,
			PerLogOdds: 4, MinPoints: -10, MaxPoints: 14,
			Autolearn: true, AutolearnSpam: 12.0, AutolearnHam: 0.1, AutolearnVeto: 0.2,
			MaxTokens: 1_000_000, Refresh: Duration(30 * time.Second),
		},
		Quarantine: Quarantine{
			Spam:      "reject-and-keep",
			Virus:     "reject-and-keep",
			Retention: Duration(30 * 24 * time.Hour),
		},
		Replies: Replies{
			Spam:     "Message rejected as spam (ref {ref}); contact the postmaster quoting this reference",
			Virus:    "Message rejected: virus {virus} found (ref {ref})",
			TempFail: "Message could not be checked, try again later (ref {ref})",
			TooLarge: "Message too large (ref {ref})",
			Banned:   "Message rejected: attachment {name} is of a type not accepted here (ref {ref})",
		},
	}
}

// Problem is one configuration error, with the place it comes from when known.
type Problem struct {
	File string
	Line int
	Key  string
	Msg  string
}

func (p Problem) String() string {
	loc := p.File
	if loc == "" {
		loc = "config"
	}
	if p.Line > 0 {
		loc = fmt.Sprintf("%s:%d", loc, p.Line)
	}
	if p.Key != "" {
		return fmt.Sprintf("%s: %s: %s", loc, p.Key, p.Msg)
	}
	return fmt.Sprintf("%s: %s", loc, p.Msg)
}

// Problems is every problem found in a configuration; it is an error.
type Problems []Problem

func (ps Problems) Error() string {
	lines := make([]string, len(ps))
	for i, p := range ps {
		lines[i] = p.String()
	}
	return strings.Join(lines, "\n")
}

// Validate checks values that decode fine but make no sense together.
// Positions are filled in by Load from the file.
func (c *Config) Validate() Problems {
	var ps Problems
	bad := func(key, format string, args ...any) {
		ps = append(ps, Problem{Key: key, Msg: fmt.Sprintf(format, args...)})
	}
	oneOf := func(key, v string, allowed ...string) {
		for _, a := range allowed {
			if v == a {
				return
			}
		}
		bad(key, "%q is not one of %s", v, strings.Join(allowed, ", "))
	}
	if c.DataDir == "" {
		bad("data_dir", "must not be empty")
	}
	if c.RejectScore < c.RequiredScore {
		bad("reject_score", "%.1f is below required_score %.1f", c.RejectScore, c.RequiredScore)
	}
	keysOK := true
	for k, r := range c.RecipientSettings() {
		key := "recipients." + quoteKey(k)
		if recipients.CheckKey(k) != nil {
			bad(key, "%v", recipients.ErrKey)
			keysOK = false
		}
		if required, reject := r.Scores(c.RequiredScore, c.RejectScore); reject < required {
			bad(key, "reject_score %.1f is below required_score %.1f", reject, required)
		}
		if r.SubjectTag != nil && strings.ContainsAny(*r.SubjectTag, "\r\n") {
			bad(key+".subject_tag", "must be one line")
		}
	}
	if _, err := recipients.New(c.RecipientSettings()); err != nil && keysOK {
		bad("recipients", "%v", err) // the same entry twice, in two cases
	}
	oneOf("on_error", c.OnError, "tempfail", "accept")
	oneOf("report_header", c.ReportHeader, "never", "spam", "always")
	oneOf("log_level", c.LogLevel, "debug", "info", "warn", "error")
	oneOf("log_format", c.LogFormat, "text", "json")
	oneOf("limits.on_too_large", c.Limits.OnTooLarge, "accept", "tempfail")
	if c.CheckTimeout <= 0 {
		bad("check_timeout", "must be positive")
	}
	if c.Milter.ShutdownTimeout < 0 {
		bad("milter.shutdown_timeout", "must not be negative")
	}
	if _, _, err := ParseListen(c.Milter.Listen); err != nil {
		bad("milter.listen", "%v", err)
	}
	if c.Bayes.MinSpam < 1 || c.Bayes.MinHam < 1 {
		bad("bayes.min_spam", "min_spam and min_ham must be at least 1")
	}
	if c.Bayes.AutolearnHam >= c.Bayes.AutolearnSpam {
		bad("bayes.autolearn_ham", "%.1f is not below autolearn_spam %.1f", c.Bayes.AutolearnHam, c.Bayes.AutolearnSpam)
	}
	if v := c.Bayes.AutolearnVeto; v < 0 || v > 1 {
		bad("bayes.autolearn_veto", "%g is not in [0, 1] (0: no veto)", v)
	}
	if c.Bayes.LearnMargin < 0 || c.Bayes.LearnMargin >= 0.5 {
		bad("bayes.learn_margin", "%g is not in [0, 0.5)", c.Bayes.LearnMargin)
	}
	if c.Bayes.PerLogOdds < 0 {
		bad("bayes.points_per_log_odds", "must not be negative (0: SpamAssassin's fixed BAYES_xx scores)")
	}
	if c.Bayes.MinPoints > 0 || c.Bayes.MaxPoints < 0 {
		bad("bayes.min_points", "min_points %g and max_points %g: want min_points <= 0 <= max_points", c.Bayes.MinPoints, c.Bayes.MaxPoints)
	}
	if c.Bayes.MaxTokens < 1000 {
		bad("bayes.max_tokens", "must be at least 1000")
	}
	if c.Bayes.Refresh <= 0 {
		bad("bayes.refresh", "must be positive")
	}
	if u := c.Storage.URL; u != "" && !strings.HasPrefix(u, "postgres://") && !strings.HasPrefix(u, "postgresql://") {
		bad("storage.url", "want empty (SQLite in data_dir) or a postgres:// URL")
	}
	oneOf("quarantine.spam", c.Quarantine.Spam, "reject-and-keep", "hold", "reject")
	oneOf("quarantine.virus", c.Quarantine.Virus, "reject-and-keep", "hold", "reject")
	if c.Quarantine.Retention <= 0 {
		bad("quarantine.retention", "must be positive")
	}
	if r := c.Quarantine.ReleaseRelay; r != "" && !strings.Contains(r, ":") {
		bad("quarantine.release_relay", "%q: want HOST:PORT", r)
	}
	oneOf("clamd.on_scan_error", c.Clamd.OnScanError, "tempfail", "accept")
	oneOf("clamd.on_too_large", c.Clamd.OnTooLarge, "accept", "tempfail")
	if c.Clamd.Address != "" {
		if _, _, err := clamdaddr.Parse(c.Clamd.Address); err != nil {
			bad("clamd.address", "%v", err)
		}
	}
	if c.Clamd.Timeout <= 0 {
		bad("clamd.timeout", "must be positive")
	}
	if c.Clamd.MaxConnections < 0 {
		bad("clamd.max_connections", "must not be negative")
	}
	if c.Clamd.StreamMaxLength <= 0 {
		bad("clamd.stream_max_length", "must be positive")
	}
	for i, e := range c.Attachments.Extensions {
		if e = strings.TrimPrefix(e, "."); e == "" || strings.ContainsAny(e, " \t./\\") {
			bad(fmt.Sprintf("attachments.extensions[%d]", i), "%q: want an extension like \"exe\"", c.Attachments.Extensions[i])
		}
	}
	for i, r := range c.Attachments.ExemptRcpts {
		if recipients.CheckKey(r) != nil {
			bad(fmt.Sprintf("attachments.exempt_rcpts[%d]", i), "%q: %v", r, recipients.ErrKey)
		}
	}
	for i, t := range c.Attachments.Types {
		if before, after, ok := strings.Cut(t, "/"); !ok || before == "" || after == "" || strings.ContainsAny(t, " ;") {
			bad(fmt.Sprintf("attachments.types[%d]", i), "%q: want a MIME type like \"application/x-msdownload\"", t)
		}
	}
	for i, n := range c.Policy.TrustedNetworks {
		if _, err := netip.ParsePrefix(n); err != nil {
			bad(fmt.Sprintf("policy.trusted_networks[%d]", i), "%q: want a network like 192.0.2.0/24", n)
		}
	}
	if c.Greylist.Delay < 0 || c.Greylist.RetryWindow <= c.Greylist.Delay {
		bad("greylist.retry_window", "%s must be longer than delay %s", c.Greylist.RetryWindow, c.Greylist.Delay)
	}
	if c.Greylist.Expire < c.Greylist.RetryWindow {
		bad("greylist.expire", "%s is shorter than retry_window %s", c.Greylist.Expire, c.Greylist.RetryWindow)
	}
	if c.Greylist.AutoAllowAfter < 0 {
		bad("greylist.auto_allow_after", "must not be negative (0: never)")
	}
	if p := c.Greylist.IPv4Prefix; p < 8 || p > 32 {
		bad("greylist.ipv4_prefix", "%d is not in 8..32", p)
	}
	if p := c.Greylist.IPv6Prefix; p < 16 || p > 128 {
		bad("greylist.ipv6_prefix", "%d is not in 16..128", p)
	}
	if r := c.DNS.Resolver; r != "" {
		if _, _, err := net.SplitHostPort(r); err != nil {
			bad("dns.resolver", "%q: want HOST:PORT, e.g. 127.0.0.1:53", r)
		}
	}
	if c.DNS.Timeout <= 0 {
		bad("dns.timeout", "must be positive")
	}
	if c.DNS.CacheSize < 0 {
		bad("dns.cache_size", "must not be negative")
	}
	if c.Auth.Enabled && c.DNS.Resolver == "" {
		bad("auth.enabled", "sender authentication needs DNS: set dns.resolver")
	}
	if c.Auth.MaxSignatures < 1 {
		bad("auth.max_signatures", "must be at least 1")
	}
	if strings.ContainsAny(c.Auth.AuthservID, " ;\t\r\n") {
		bad("auth.authserv_id", "%q: one word, no spaces or semicolons", c.Auth.AuthservID)
	}
	if (len(c.DNSBL.Zones) > 0 || len(c.URIBL.Zones) > 0 || len(c.URIBL.IPZones) > 0 || len(c.URIBL.NSZones) > 0) && c.DNS.Resolver == "" {
		bad("dns.resolver", "block lists are configured but no resolver: set dns.resolver (Postern never uses the system's resolver unasked)")
	}
	for name, z := range c.DNSBL.Zone {
		key := fmt.Sprintf("dnsbl.zone.%q", name)
		if !slices.Contains(c.DNSBL.Zones, name) {
			bad(key, "settings for a zone not in dnsbl.zones")
		}
		for _, code := range z.Reject {
			if _, err := resolver.ParseCodeRange(code); err != nil {
				bad(key+".reject", "%v", err)
			}
		}
		if _, err := resolver.ParseCodeScores(z.Scores); err != nil {
			bad(key+".scores", "%v", err)
		}
	}
	for _, l := range []struct {
		key   string
		names []string
	}{{"uribl.ip_zones", c.URIBL.IPZones}, {"uribl.ns_zones", c.URIBL.NSZones}} {
		for _, name := range l.names {
			if slices.Contains(c.URIBL.Zones, name) {
				bad(l.key, "%q is in uribl.zones too: a list holds domains or addresses", name)
			}
		}
	}
	uriblZones := func(tables map[string]URIBLZone, table string, in func(name string) bool, where string) {
		for name, z := range tables {
			key := fmt.Sprintf("uribl.%s.%q", table, name)
			if !in(name) {
				bad(key, "settings for a zone %s", where)
			}
			if _, ok := c.URIBL.Scores[name]; ok && len(z.Scores) > 0 {
				bad(key+".scores", "uribl.scores scores this zone too: keep one")
			}
			if _, err := resolver.ParseCodeScores(z.Scores); err != nil {
				bad(key+".scores", "%v", err)
			}
		}
	}
	uriblZones(c.URIBL.Zone, "zone", func(name string) bool {
		return slices.Contains(c.URIBL.Zones, name) || slices.Contains(c.URIBL.IPZones, name)
	}, "in neither uribl.zones nor uribl.ip_zones")
	uriblZones(c.URIBL.NSZone, "ns_zone", func(name string) bool { return slices.Contains(c.URIBL.NSZones, name) }, "not in uribl.ns_zones")
	if c.URIBL.MaxDomains < 1 {
		bad("uribl.max_domains", "must be at least 1")
	}
	if l := c.Metrics.Listen; l != "" && !strings.Contains(l, ":") {
		bad("metrics.listen", "%q: want HOST:PORT", l)
	}
	if c.Limits.MaxMessageSize <= 0 {
		bad("limits.max_message_size", "must be positive")
	}
	if c.Limits.ScanLimit <= 0 {
		bad("limits.scan_limit", "must be positive")
	}
	if c.Limits.ScanLimit > c.Limits.MaxMessageSize {
		bad("limits.scan_limit", "%s is above max_message_size %s", c.Limits.ScanLimit, c.Limits.MaxMessageSize)
	}
	if c.Limits.MemorySpool < 0 {
		bad("limits.memory_spool", "must not be negative")
	}
	for key, text := range map[string]string{
		"replies.spam": c.Replies.Spam, "replies.virus": c.Replies.Virus,
		"replies.tempfail": c.Replies.TempFail, "replies.too_large": c.Replies.TooLarge,
		"replies.banned": c.Replies.Banned, "subject_tag": c.SubjectTag,
	} {
		if strings.ContainsAny(text, "\r\n") {
			bad(key, "must be one line")
		}
	}
	return ps
}

// ParseListen splits Postfix's milter notation into a Go network and address.
func ParseListen(s string) (network, address string, err error) {
	kind, rest, ok := strings.Cut(s, ":")
	if !ok || rest == "" {
		return "", "", fmt.Errorf("%q: want inet:HOST:PORT or unix:PATH", s)
	}
	switch kind {
	case "inet", "inet6":
		if !strings.Contains(rest, ":") {
			return "", "", fmt.Errorf("%q: want inet:HOST:PORT", s)
		}
		return "tcp", rest, nil
	case "unix", "local":
		return "unix", rest, nil
	}
	return "", "", fmt.Errorf("%q: unknown socket kind %q, want inet or unix", s, kind)
}
