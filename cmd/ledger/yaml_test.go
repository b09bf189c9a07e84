package main

import (
	"fmt"
	"strconv"
	"strings"
)

// A small YAML reader: block mappings and lists, one-line flow lists,
// scalars plain or quoted, comments. Anything else is an error.

type ykind int

const (
	yNull ykind = iota
	yScalar
	yMap
	ySeq
)

type ynode struct {
	kind    ykind
	scalar  string
	comment string // the comment on the scalar's line
	keys    []string
	m       map[string]*ynode
	seq     []*ynode
}

func (n *ynode) get(key string) *ynode {
	if n == nil || n.kind != yMap {
		return nil
	}
	return n.m[key]
}

func (n *ynode) str() (string, bool) {
	if n == nil || n.kind != yScalar {
		return "", false
	}
	return n.scalar, true
}

func (n *ynode) list() []*ynode {
	if n == nil || n.kind != ySeq {
		return nil
	}
	return n.seq
}

// strs is a list of scalars, or a scalar split at spaces (compose's string
// form of command).
func (n *ynode) strs() ([]string, bool) {
	if s, ok := n.str(); ok {
		return strings.Fields(s), true
	}
	if n == nil || n.kind != ySeq {
		return nil, false
	}
	var out []string
	for _, item := range n.seq {
		s, ok := item.str()
		if !ok {
			return nil, false
		}
		out = append(out, s)
	}
	return out, true
}

type yline struct {
	n, indent     int
	text, comment string
}

type yparser struct {
	lines []yline
	i     int
}

func parseYAML(text string) (*ynode, error) {
	var p yparser
	for i, raw := range strings.Split(text, "\n") {
		body := strings.TrimLeft(raw, " ")
		if strings.HasPrefix(body, "\t") {
			return nil, fmt.Errorf("line %d: a tab in the indentation", i+1)
		}
		t, comment := splitComment(body)
		t = strings.TrimRight(t, " \t\r")
		if t == "" {
			continue
		}
		if t == "---" || strings.HasPrefix(t, "%") {
			return nil, fmt.Errorf("line %d: %q is not supported", i+1, t)
		}
		p.lines = append(p.lines, yline{n: i + 1, indent: len(raw) - len(body), text: t, comment: comment})
	}
	if len(p.lines) == 0 {
		return &ynode{}, nil
	}
	n, err := p.block(p.lines[0].indent)
	if err != nil {
		return nil, err
	}
	if p.i < len(p.lines) {
		return nil, fmt.Errorf("line %d: unexpected indentation", p.lines[p.i].n)
	}
	return n, nil
}

// splitComment splits s at a '#' that starts a comment: outside quotes, at
// the start or after a space.
func splitComment(s string) (text, comment string) {
	var quote byte
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case quote != 0:
			if c == quote {
				quote = 0
			}
		case c == '"' || c == '\'':
			if i == 0 || strings.ContainsRune(" [,:-", rune(s[i-1])) {
				quote = c
			}
		case c == '#' && (i == 0 || s[i-1] == ' ' || s[i-1] == '\t'):
			return s[:i], strings.TrimSpace(s[i+1:])
		}
	}
	return s, ""
}

func isSeqItem(s string) bool { return s == "-" || strings.HasPrefix(s, "- ") }

func (p *yparser) block(indent int) (*ynode, error) {
	if isSeqItem(p.lines[p.i].text) {
		return p.sequence(indent)
	}
	return p.mapping(indent)
}

// child parses the block under a key or list item that had no inline value.
func (p *yparser) child(indent int, seqAllowedAtSame bool) (*ynode, error) {
	if p.i < len(p.lines) {
		next := p.lines[p.i]
		if next.indent > indent || seqAllowedAtSame && next.indent == indent && isSeqItem(next.text) {
			return p.block(next.indent)
		}
	}
	return &ynode{kind: yNull}, nil
}

func (p *yparser) sequence(indent int) (*ynode, error) {
	n := &ynode{kind: ySeq}
	for p.i < len(p.lines) && p.lines[p.i].indent == indent && isSeqItem(p.lines[p.i].text) {
		l := p.lines[p.i]
		after := l.text[1:]
		rest := strings.TrimLeft(after, " ")
		var item *ynode
		var err error
		switch {
		case rest == "":
			p.i++
			item, err = p.child(indent, false)
		case mapEntry(rest):
			// "- key: value" starts a mapping indented as its key.
			p.lines[p.i] = yline{n: l.n, indent: indent + 1 + len(after) - len(rest), text: rest, comment: l.comment}
			item, err = p.mapping(p.lines[p.i].indent)
		default:
			p.i++
			item, err = scalarOrFlow(rest, l)
		}
		if err != nil {
			return nil, err
		}
		n.seq = append(n.seq, item)
	}
	if p.i < len(p.lines) && p.lines[p.i].indent > indent {
		return nil, fmt.Errorf("line %d: unexpected indentation", p.lines[p.i].n)
	}
	return n, nil
}

func (p *yparser) mapping(indent int) (*ynode, error) {
	n := &ynode{kind: yMap, m: map[string]*ynode{}}
	for p.i < len(p.lines) && p.lines[p.i].indent == indent {
		l := p.lines[p.i]
		if isSeqItem(l.text) {
			return nil, fmt.Errorf("line %d: a list item among mapping keys", l.n)
		}
		key, val, ok := splitKey(l.text)
		if !ok {
			return nil, fmt.Errorf("line %d: want key: value, have %q", l.n, l.text)
		}
		if _, dup := n.m[key]; dup {
			return nil, fmt.Errorf("line %d: key %q twice", l.n, key)
		}
		p.i++
		var child *ynode
		var err error
		if val == "" {
			child, err = p.child(indent, true)
		} else {
			child, err = scalarOrFlow(val, l)
		}
		if err != nil {
			return nil, err
		}
		n.keys = append(n.keys, key)
		n.m[key] = child
	}
	if p.i < len(p.lines) && p.lines[p.i].indent > indent {
		return nil, fmt.Errorf("line %d: unexpected indentation", p.lines[p.i].n)
	}
	return n, nil
}

// mapEntry says whether s is "key: ..." rather than a plain scalar such as
// nats-data:/data.
func mapEntry(s string) bool {
	_, _, ok := splitKey(s)
	return ok
}

func splitKey(s string) (key, val string, ok bool) {
	if s[0] == '"' || s[0] == '\'' {
		end := strings.IndexByte(s[1:], s[0])
		if end < 0 || !strings.HasPrefix(s[end+2:], ":") {
			return "", "", false
		}
		key, rest := s[1:end+1], s[end+3:]
		if rest != "" && rest[0] != ' ' {
			return "", "", false
		}
		return key, strings.TrimSpace(rest), true
	}
	for i := 0; i < len(s); i++ {
		if s[i] == ':' && (i+1 == len(s) || s[i+1] == ' ') {
			return s[:i], strings.TrimSpace(s[i+1:]), i > 0
		}
		if s[i] == '[' || s[i] == '{' || s[i] == '"' {
			return "", "", false
		}
	}
	return "", "", false
}

func scalarOrFlow(s string, l yline) (*ynode, error) {
	var n *ynode
	var err error
	switch s[0] {
	case '[':
		n, err = parseFlow(s)
	case '{', '|', '>', '&', '*', '!':
		err = fmt.Errorf("%q is not supported", s)
	default:
		n = &ynode{kind: yScalar}
		n.scalar, err = unquote(s)
	}
	if err != nil {
		return nil, fmt.Errorf("line %d: %w", l.n, err)
	}
	n.comment = l.comment
	return n, nil
}

// parseFlow parses a one-line list of scalars: [a, "b", 'c'].
func parseFlow(s string) (*ynode, error) {
	n := &ynode{kind: ySeq}
	if !strings.HasPrefix(s, "[") || !strings.HasSuffix(s, "]") {
		return nil, fmt.Errorf("%q: a flow list must open and close on its line", s)
	}
	rest := strings.TrimSpace(s[1 : len(s)-1])
	for rest != "" {
		var item string
		if rest[0] == '"' || rest[0] == '\'' {
			end := 1
			for end < len(rest) && (rest[end] != rest[0] || rest[0] == '"' && rest[end-1] == '\\') {
				end++
			}
			if end == len(rest) {
				return nil, fmt.Errorf("%q: unterminated string", s)
			}
			item, rest = rest[:end+1], strings.TrimSpace(rest[end+1:])
		} else {
			end := strings.IndexByte(rest, ',')
			if end < 0 {
				end = len(rest)
			}
			item, rest = strings.TrimSpace(rest[:end]), rest[end:]
		}
		if item == "" || strings.ContainsAny(item[:1], "[{") {
			return nil, fmt.Errorf("%q: an empty item or a nested flow collection", s)
		}
		v, err := unquote(item)
		if err != nil {
			return nil, err
		}
		n.seq = append(n.seq, &ynode{kind: yScalar, scalar: v})
		if rest != "" {
			if rest[0] != ',' {
				return nil, fmt.Errorf("%q: want a comma after %s", s, item)
			}
			rest = strings.TrimSpace(rest[1:])
		}
	}
	return n, nil
}

func unquote(s string) (string, error) {
	switch {
	case len(s) >= 2 && s[0] == '"' && s[len(s)-1] == '"':
		return strconv.Unquote(s)
	case len(s) >= 2 && s[0] == '\'' && s[len(s)-1] == '\'':
		return strings.ReplaceAll(s[1:len(s)-1], "''", "'"), nil
	case s[0] == '"' || s[0] == '\'':
		return "", fmt.Errorf("%q: unterminated string", s)
	}
	return s, nil
}
