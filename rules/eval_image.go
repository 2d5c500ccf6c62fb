package rules

import (
	"fmt"
	"strconv"
	"strings"
)

// SpamAssassin's ImageInfo plugin (Mail/SpamAssassin/Plugin/ImageInfo.pm): how
// many GIF, PNG and JPEG images a message attaches (base64, as mail carries
// them), how many pixels they cover, and how much text there is beside them.
// Spam that is one large picture of its text carries no words for the other
// rules to read; these tests see the picture. The sizes come from the images'
// headers, which the MIME walk reads (scan.Part.Width, Height).

// imageStats is _get_images's summary, by type ("all", "gif", "png", "jpeg").
type imageStats struct {
	count map[string]int
	area  map[string]int
}

func (t *target) images() *imageStats {
	if t.imageRes != nil {
		return t.imageRes
	}
	st := &imageStats{count: map[string]int{}, area: map[string]int{}}
	for _, p := range t.msg.Parsed.Parts {
		typ, ok := strings.CutPrefix(p.ContentType, "image/")
		if !ok {
			continue
		}
		if typ == "jpg" {
			typ = "jpeg"
		}
		if typ != "gif" && typ != "png" && typ != "jpeg" {
			continue
		}
		if !strings.EqualFold(strings.TrimSpace(p.Header.Get("Content-Transfer-Encoding")), "base64") {
			continue
		}
		st.count[typ]++
		st.count["all"]++
		st.area[typ] += p.Width * p.Height
		st.area["all"] += p.Width * p.Height
	}
	t.imageRes = st
	return st
}

// imageArgs reads (type, min[, max]): max absent means no bound.
func imageArgs(args []string, needMax bool) (typ string, lo, hi float64, hasHi bool, err error) {
	if len(args) < 2 || len(args) > 3 || needMax && len(args) != 3 {
		return "", 0, 0, false, fmt.Errorf("want TYPE, MIN[, MAX]")
	}
	typ = strings.ToLower(args[0])
	if typ != "all" && typ != "gif" && typ != "png" && typ != "jpeg" {
		return "", 0, 0, false, fmt.Errorf("image type %q: want all, gif, png or jpeg", args[0])
	}
	if lo, err = strconv.ParseFloat(args[1], 64); err != nil {
		return "", 0, 0, false, fmt.Errorf("min %q: %v", args[1], err)
	}
	if len(args) == 3 {
		if hi, err = strconv.ParseFloat(args[2], 64); err != nil {
			return "", 0, 0, false, fmt.Errorf("max %q: %v", args[2], err)
		}
		hasHi = true
	}
	return typ, lo, hi, hasHi, nil
}

func init() {
	const p = "ImageInfo"
	within := func(v, lo, hi float64, hasHi, maxExcluded bool) bool {
		return v >= lo && (!hasHi || v < hi || v == hi && !maxExcluded)
	}
	register(p, "image_count", func(args []string) (evalFunc, error) {
		typ, lo, hi, hasHi, err := imageArgs(args, false)
		if err != nil {
			return nil, err
		}
		return func(t *target) bool { return within(float64(t.images().count[typ]), lo, hi, hasHi, false) }, nil
	})
	register(p, "pixel_coverage", func(args []string) (evalFunc, error) {
		typ, lo, hi, hasHi, err := imageArgs(args, false)
		if err != nil {
			return nil, err
		}
		return func(t *target) bool { return within(float64(t.images().area[typ]), lo, hi, hasHi, false) }, nil
	})
	register(p, "image_to_text_ratio", func(args []string) (evalFunc, error) {
		typ, lo, hi, _, err := imageArgs(args, true)
		if err != nil {
			return nil, err
		}
		return func(t *target) bool {
			area := t.images().area[typ]
			// The text of the rule's kind: the rendered body, or the raw one
			// (HTML as written) for a rawbody rule.
			text := len(t.body)
			if t.evalKind == Rawbody {
				text = len(t.rawbody) - t.rawbodyAdded // (SpamAssassin joins its pieces and parts as they are)
			}
			if text == 0 || area == 0 {
				return false
			}
			return within(float64(text)/float64(area), lo, hi, true, true)
		}, nil
	})
}
