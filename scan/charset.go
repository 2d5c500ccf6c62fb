package scan

import (
	"github.com/emersion/go-message/charset" // decode text in common non-UTF-8 charsets
	"golang.org/x/text/encoding/charmap"
)

// Text labelled ISO-8859-1 is read as Windows-1252, its superset, as
// SpamAssassin's Message::Node::_normalize does (and mail readers and browsers,
// after HTML5): 0x80-0x9F are then the smart quotes, dashes and euro sign that
// mislabelled mail means, not C1 control characters. Read as controls, a
// quote was a letter to the HTML analysis (HTML_OBFUSCATE_05_10 hit where
// SpamAssassin reads a '"') and to word-boundary rules. The names are
// SpamAssassin's (ISO-?8859-1); the rest of ISO-8859-1's aliases it reads
// strictly, as the standard decoder does.
func init() {
	for _, name := range []string{"iso-8859-1", "iso8859-1"} {
		charset.RegisterEncoding(name, charmap.Windows1252)
	}
}
