package events_test

import (
	"go/ast"
	"go/doc"
	"go/parser"
	"go/token"
	"path/filepath"
	"reflect"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"
)

// payloadDoc is what the Go source says of one payload struct.
type payloadDoc struct {
	paragraphs []string          // its doc comment, Go field names replaced by JSON names
	fieldNotes map[string]string // JSON field name → the field's own comment
}

// payloadDocs reads the doc comments of the package's exported structs from
// its source (the non-test files of this directory), keyed by type name.
func payloadDocs(t *testing.T) map[string]payloadDoc {
	t.Helper()
	names, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	var files []*ast.File
	for _, name := range names {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, parser.ParseComments)
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, f)
	}
	pkg, err := doc.NewFromFiles(fset, files, "github.com/entledger/ledger/events")
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]payloadDoc{}
	for _, typ := range pkg.Types {
		st := structType(typ)
		if st == nil {
			continue
		}
		jsonNames, notes := structFields(st)
		out[typ.Name] = payloadDoc{paragraphs: docParagraphs(typ.Name, typ.Doc, jsonNames), fieldNotes: notes}
	}
	return out
}

// structType is the struct a documented type declares, or nil.
func structType(typ *doc.Type) *ast.StructType {
	for _, spec := range typ.Decl.Specs {
		if ts, ok := spec.(*ast.TypeSpec); ok && ts.Name.Name == typ.Name {
			st, _ := ts.Type.(*ast.StructType)
			return st
		}
	}
	return nil
}

// structFields maps each field's Go name to its JSON name, and each JSON
// name to the field's comment, if it has one.
func structFields(st *ast.StructType) (jsonNames, notes map[string]string) {
	jsonNames, notes = map[string]string{}, map[string]string{}
	for _, f := range st.Fields.List {
		if f.Tag == nil || len(f.Names) != 1 {
			continue
		}
		tag, err := strconv.Unquote(f.Tag.Value)
		if err != nil {
			continue
		}
		name, _, _ := strings.Cut(reflect.StructTag(tag).Get("json"), ",")
		if name == "" || name == "-" {
			continue
		}
		jsonNames[f.Names[0].Name] = name
		comment := f.Comment
		if comment == nil {
			comment = f.Doc
		}
		if text := strings.Join(strings.Fields(comment.Text()), " "); text != "" {
			notes[name] = text
		}
	}
	return jsonNames, notes
}

// docParagraphs turns a payload's doc comment into Markdown paragraphs:
// without the leading "TypeName:", capitalised, and with the Go names of
// its fields written as their JSON names.
func docParagraphs(typeName, text string, jsonNames map[string]string) []string {
	text = strings.TrimSpace(text)
	text = strings.TrimPrefix(strings.TrimPrefix(text, typeName+":"), typeName+" ")
	text = strings.TrimSpace(text)
	if text == "" {
		return nil
	}
	r, size := utf8.DecodeRuneInString(text)
	text = string(unicode.ToUpper(r)) + text[size:]
	rename := fieldNamePattern(jsonNames)
	var out []string
	for _, p := range strings.Split(text, "\n\n") {
		p = strings.Join(strings.Fields(p), " ")
		if rename != nil {
			p = rename.ReplaceAllStringFunc(p, func(goName string) string { return "`" + jsonNames[goName] + "`" })
		}
		out = append(out, p)
	}
	return out
}

// fieldNamePattern matches any of the Go field names as a whole word,
// longest first; nil for none.
func fieldNamePattern(jsonNames map[string]string) *regexp.Regexp {
	if len(jsonNames) == 0 {
		return nil
	}
	names := make([]string, 0, len(jsonNames))
	for n := range jsonNames {
		names = append(names, regexp.QuoteMeta(n))
	}
	sort.Slice(names, func(i, j int) bool {
		return len(names[i]) > len(names[j]) || len(names[i]) == len(names[j]) && names[i] < names[j]
	})
	return regexp.MustCompile(`\b(` + strings.Join(names, "|") + `)\b`)
}
