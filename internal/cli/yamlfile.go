package cli

import (
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// Lines maps each key found in a config file, as a dotted path ("intake.listen"), to its line.
type Lines map[string]int

// DecodeYAML decodes data, the YAML file called name, into out (a pointer to a struct whose
// fields carry yaml tags). It is strict: an unknown key, a key given twice, a key without a
// value or a value of the wrong type is an error of the form "name:line: field: problem", and
// every such error in the file is reported. An empty file sets nothing.
func DecodeYAML(name string, data []byte, out any) (Lines, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	lines := Lines{}
	if len(doc.Content) == 0 {
		return lines, nil
	}
	d := decoder{name: name, lines: lines}
	root := doc.Content[0]
	if root.Kind != yaml.MappingNode {
		return nil, fmt.Errorf("%s:%d: the file must be a mapping of settings (key: value), not %s", name, root.Line, kindName(root))
	}
	d.structure(root, reflect.ValueOf(out).Elem(), "")
	return lines, errors.Join(d.errs...)
}

type decoder struct {
	name  string
	lines Lines
	errs  []error
}

func (d *decoder) fail(line int, path, format string, args ...any) {
	d.errs = append(d.errs, fmt.Errorf("%s:%d: %s: %s", d.name, line, path, fmt.Sprintf(format, args...)))
}

// structure decodes a mapping node into the struct v, key by key.
func (d *decoder) structure(n *yaml.Node, v reflect.Value, prefix string) {
	fields, known := yamlFields(v.Type())
	seen := map[string]int{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, val := n.Content[i], n.Content[i+1]
		path := prefix + k.Value
		if first, dup := seen[k.Value]; dup {
			d.fail(k.Line, path, "set twice (first on line %d)", first)
			continue
		}
		seen[k.Value] = k.Line
		idx, ok := fields[k.Value]
		if !ok {
			d.fail(k.Line, path, "unknown field; known fields are %s", strings.Join(known, ", "))
			continue
		}
		d.lines[path] = k.Line
		d.value(val, v.Field(idx), path)
	}
}

var durationType = reflect.TypeFor[time.Duration]()

// value decodes one node into v, descending into structs, maps and lists of structs so that
// every error names its own line and field.
func (d *decoder) value(n *yaml.Node, v reflect.Value, path string) {
	if n.Kind == yaml.ScalarNode && n.Tag == "!!null" {
		d.fail(n.Line, path, "has no value; give one or remove the key")
		return
	}
	if n.Kind == yaml.AliasNode {
		d.fail(n.Line, path, "YAML aliases are not supported in config files")
		return
	}
	t := v.Type()
	switch {
	case t.Kind() == reflect.Pointer:
		elem := reflect.New(t.Elem())
		d.value(n, elem.Elem(), path)
		v.Set(elem)
	case t.Kind() == reflect.Struct && t != durationType:
		if n.Kind != yaml.MappingNode {
			d.fail(n.Line, path, "want a mapping of settings, got %s", kindName(n))
			return
		}
		d.structure(n, v, path+".")
	case t.Kind() == reflect.Map && needsDescent(t.Elem()):
		if n.Kind != yaml.MappingNode {
			d.fail(n.Line, path, "want a mapping, got %s", kindName(n))
			return
		}
		m := reflect.MakeMap(t)
		for i := 0; i+1 < len(n.Content); i += 2 {
			k := n.Content[i]
			elem := reflect.New(t.Elem()).Elem()
			d.value(n.Content[i+1], elem, path+"."+k.Value)
			m.SetMapIndex(reflect.ValueOf(k.Value).Convert(t.Key()), elem)
		}
		v.Set(m)
	case t.Kind() == reflect.Slice && needsDescent(t.Elem()):
		if n.Kind != yaml.SequenceNode {
			d.fail(n.Line, path, "want a list, got %s", kindName(n))
			return
		}
		s := reflect.MakeSlice(t, len(n.Content), len(n.Content))
		for i, item := range n.Content {
			d.value(item, s.Index(i), fmt.Sprintf("%s[%d]", path, i))
		}
		v.Set(s)
	case isInt(t) && n.ShortTag() != "!!int":
		// The YAML library would truncate 1.5 to 1; a whole number is wanted.
		d.fail(n.Line, path, "want %s, got %s", typeName(t), shown(n))
	default:
		if err := n.Decode(v.Addr().Interface()); err != nil {
			d.fail(n.Line, path, "want %s, got %s", typeName(t), shown(n))
		}
	}
}

// isInt reports whether t is an integer type other than a duration.
func isInt(t reflect.Type) bool {
	switch t.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return t != durationType
	}
	return false
}

// needsDescent reports whether values of t are decoded field by field.
func needsDescent(t reflect.Type) bool {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	return t.Kind() == reflect.Struct && t != durationType
}

// yamlFields maps the yaml keys of struct type t to field indexes and lists them sorted.
func yamlFields(t reflect.Type) (map[string]int, []string) {
	fields := map[string]int{}
	var known []string
	for i := range t.NumField() {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if !f.IsExported() || name == "-" || name == "" {
			continue
		}
		fields[name] = i
		known = append(known, name)
	}
	slices.Sort(known)
	return fields, known
}

// typeName says in words what a value of type t looks like.
func typeName(t reflect.Type) string {
	if t == durationType {
		return "a duration such as 30s, 5m or 1h30m"
	}
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "true or false"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return "a whole number"
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "a whole number, not negative"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.Slice:
		return "a list of " + strings.TrimPrefix(typeName(t.Elem()), "a ") + "s"
	case reflect.Map:
		return "a mapping of " + strings.TrimPrefix(typeName(t.Elem()), "a ") + "s"
	}
	return t.String()
}

// shown quotes a node for an error message, shortened.
func shown(n *yaml.Node) string {
	if n.Kind != yaml.ScalarNode {
		return kindName(n)
	}
	s := n.Value
	if len(s) > 40 {
		s = s[:40] + "…"
	}
	return fmt.Sprintf("%q", s)
}

func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.AliasNode:
		return "an alias"
	}
	return "a value " + shown(n)
}
