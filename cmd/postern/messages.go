package main

import (
	"bytes"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/postern/postern/filter"
	"github.com/postern/postern/internal/mbox"
	"github.com/postern/postern/scan"
	"github.com/postern/postern/spool"
)

// The message files the commands read (check, learn, rules): paths walked, files
// read, messages parsed.

// walkMessages calls fn with every message file under paths, in order: files,
// directories read recursively (hidden entries skipped), "-" (standard input) as
// it is. A path that cannot be read is given too, for the reader to report.
func walkMessages(paths []string, fn func(path string)) {
	for _, path := range paths {
		if path == "-" {
			fn(path)
			continue
		}
		err := filepath.WalkDir(path, func(f string, d fs.DirEntry, err error) error {
			if err != nil {
				fn(f)
				return nil
			}
			if d.IsDir() || strings.HasPrefix(d.Name(), ".") {
				return nil
			}
			fn(f)
			return nil
		})
		if err != nil {
			fn(path)
		}
	}
}

// eachMessage calls fn with every message under paths (walkMessages): a file's
// one message, or an mbox file's messages one by one, named PATH#N (N from 1)
// when it holds more than one; or the error that kept a file from being read.
// A lone message is read as readMessage reads it.
func eachMessage(paths []string, fn func(name string, raw []byte, err error)) {
	walkMessages(paths, func(f string) {
		data, err := readInput(f)
		if err != nil {
			fn(f, nil, err)
			return
		}
		msgs := mbox.Split(data)
		if len(msgs) <= 1 {
			fn(f, mbox.StripFrom(data), nil)
			return
		}
		for i, m := range msgs {
			fn(fmt.Sprintf("%s#%d", f, i+1), m, nil)
		}
	})
}

// readMessage reads a message file ("-": standard input), without a leading mbox
// "From " line.
func readMessage(path string) ([]byte, error) {
	data, err := readInput(path)
	return mbox.StripFrom(data), err
}

// readInput reads a file, or standard input for "-".
func readInput(path string) ([]byte, error) {
	if path == "-" {
		return io.ReadAll(os.Stdin)
	}
	return os.ReadFile(path)
}

// parsedMessage is a message as the rules check is given it (spooled, parsed),
// with an empty envelope: what the rules commands run their rules on.
func parsedMessage(raw []byte) (*filter.Message, error) {
	parsed, err := scan.Parse(bytes.NewReader(raw))
	if err != nil {
		return nil, err
	}
	sp := spool.FromBytes(raw)
	return &filter.Message{Raw: sp, Size: sp.Size(), Parsed: parsed, Env: &filter.Envelope{}}, nil
}
