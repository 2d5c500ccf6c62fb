package clamav

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/postern/postern/filter"
	"github.com/postern/postern/scan"
)

// Scanner is what the check needs from clamd; *Client is one.
type Scanner interface {
	Scan(ctx context.Context, r io.Reader) (string, error)
}

// Check is the virus check of the filter pipeline.
type Check struct {
	Clamd Scanner
	// WholeMessage also streams the raw message, so clamd's own mail parser and
	// phishing signatures see it as sent.
	WholeMessage bool
	// Timeout bounds each INSTREAM call (the pipeline's deadline bounds them all).
	Timeout time.Duration
	// AcceptOnError (on_scan_error = "accept") delivers mail clamd could not scan,
	// marked "X-Virus-Status: Unscanned (reason)"; otherwise the check fails (451).
	AcceptOnError bool
	// AcceptTooLarge (on_too_large = "accept") does the same for parts over clamd's
	// StreamMaxLength; otherwise they are a failure too.
	AcceptTooLarge bool
}

// Name implements filter.Check.
func (c *Check) Name() string { return "clamav" }

// errStop ends the walk once the outcome is known.
var errStop = errors.New("stop")

const wholeMessage = "whole message"

type finding struct {
	virus, part string
	tooLarge    []string
	errs        []error
}

// Check implements filter.Check: every decoded leaf part, and optionally the raw
// message, go to clamd; the first signature found ends the scan.
func (c *Check) Check(ctx context.Context, m *filter.Message) filter.Result {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var mu sync.Mutex
	var f finding
	record := func(part string, sig string, err error) bool {
		mu.Lock()
		defer mu.Unlock()
		switch {
		case sig != "":
			if f.virus == "" || f.part == wholeMessage {
				f.virus, f.part = sig, part // the part that has it, when we know
			}
			if part == wholeMessage {
				return false // let the part scans name the infected part
			}
			cancel() // the verdict is known: stop the whole-message scan
			return true
		case errors.Is(err, ErrSizeLimit):
			f.tooLarge = append(f.tooLarge, part)
		case err != nil && f.virus == "":
			f.errs = append(f.errs, fmt.Errorf("%s: %w", part, err))
			// The message cannot be called clean any more: do not wait for a
			// failing clamd once per part.
			return true
		}
		return false
	}

	var wg sync.WaitGroup
	if c.WholeMessage {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sig, err := c.scan(ctx, m.RawReader())
			record(wholeMessage, sig, err)
		}()
	}
	_, _, werr := scan.Walk(m.RawReader(), func(l scan.Leaf, body io.Reader) error {
		br := bufio.NewReader(body)
		if _, err := br.Peek(1); err != nil {
			return nil // empty part: nothing to scan (a read failure surfaces in Walk)
		}
		sig, err := c.scan(ctx, br)
		if record(describe(l), sig, err) {
			return errStop
		}
		return nil
	})
	wg.Wait()
	if werr != nil && !errors.Is(werr, errStop) {
		record("message", "", werr)
	}

	if f.virus != "" {
		return filter.Result{Virus: f.virus, VirusPart: f.part}
	}
	var r filter.Result
	status := "Clean"
	switch {
	case len(f.errs) > 0:
		err := errors.Join(f.errs...)
		if !c.AcceptOnError {
			return filter.Result{Err: err}
		}
		status = "Unscanned (" + oneLine(err) + ")"
	case len(f.tooLarge) > 0:
		if !c.AcceptTooLarge {
			return filter.Result{Err: fmt.Errorf("%w: %s", ErrSizeLimit, strings.Join(f.tooLarge, ", "))}
		}
		status = "Unscanned (exceeds StreamMaxLength: " + strings.Join(f.tooLarge, ", ") + ")"
	}
	r.Headers = []filter.Header{{Name: "X-Virus-Scanned", Value: "postern/clamav"}, {Name: "X-Virus-Status", Value: status}}
	return r
}

func (c *Check) scan(ctx context.Context, r io.Reader) (string, error) {
	if c.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, c.Timeout)
		defer cancel()
	}
	return c.Clamd.Scan(ctx, r)
}

// describe names a part for the log: its file name and content type.
func describe(l scan.Leaf) string {
	if l.Filename != "" {
		return fmt.Sprintf("%q (%s)", l.Filename, l.ContentType)
	}
	return l.ContentType + " part"
}

// oneLine makes an error fit in a header value.
func oneLine(err error) string {
	s := strings.Join(strings.Fields(err.Error()), " ")
	if len(s) > 200 {
		s = s[:200] + "…"
	}
	return s
}
