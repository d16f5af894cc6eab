package cert

import (
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"time"
)

// UnmarshalStrict decodes a signed JSON document into v, refusing what
// could make another reader see different content: everything parseStrict
// refuses, plus keys that are not exactly a field's JSON name (encoding/json
// would match "Status" to "status") and fields v does not have. Every
// reader of a signed payload in lethe decodes through it.
func UnmarshalStrict(data []byte, v any) error {
	tree, err := parseStrict(data)
	if err != nil {
		return err
	}
	rv := reflect.ValueOf(v)
	if rv.Kind() != reflect.Pointer || rv.IsNil() {
		return fmt.Errorf("UnmarshalStrict needs a non-nil pointer, got %T", v)
	}
	if err := checkKeys(tree, rv.Type().Elem(), ""); err != nil {
		return err
	}
	return json.Unmarshal(data, v)
}

var (
	timeType      = reflect.TypeFor[time.Time]()
	rawType       = reflect.TypeFor[json.RawMessage]()
	unmarshalType = reflect.TypeFor[json.Unmarshaler]()
)

// checkKeys walks the parsed document along the Go type it will be
// decoded into and requires every object key to be exactly the JSON name
// of a field (or any key, for maps).
func checkKeys(v value, t reflect.Type, path string) error {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if v.kind == kindNull || t == timeType || t == rawType {
		return nil
	}
	switch t.Kind() {
	case reflect.Struct:
		if reflect.PointerTo(t).Implements(unmarshalType) {
			return nil // decodes itself
		}
		if v.kind != kindObject {
			return nil // json.Unmarshal reports the type mismatch
		}
		fields := jsonFields(t)
		for _, m := range v.members {
			ft, ok := fields[m.key]
			if !ok {
				return fmt.Errorf("%s: unknown field %q", orRoot(path), m.key)
			}
			if err := checkKeys(m.val, ft, path+"."+m.key); err != nil {
				return err
			}
		}
	case reflect.Map:
		if v.kind != kindObject {
			return nil
		}
		for _, m := range v.members {
			if err := checkKeys(m.val, t.Elem(), path+"."+m.key); err != nil {
				return err
			}
		}
	case reflect.Slice, reflect.Array:
		if v.kind != kindArray || t.Elem().Kind() == reflect.Uint8 {
			return nil
		}
		for i, it := range v.items {
			if err := checkKeys(it, t.Elem(), fmt.Sprintf("%s[%d]", path, i)); err != nil {
				return err
			}
		}
	}
	return nil
}

func orRoot(path string) string {
	if path == "" {
		return "document"
	}
	return strings.TrimPrefix(path, ".")
}

// jsonFields maps the JSON names of t's exported fields (embedded structs
// flattened, as encoding/json does) to their types.
func jsonFields(t reflect.Type) map[string]reflect.Type {
	out := map[string]reflect.Type{}
	for i := range t.NumField() {
		f := t.Field(i)
		if !f.IsExported() && !f.Anonymous {
			continue
		}
		tag := f.Tag.Get("json")
		if tag == "-" {
			continue
		}
		name, _, _ := strings.Cut(tag, ",")
		if f.Anonymous && name == "" {
			ft := f.Type
			if ft.Kind() == reflect.Pointer {
				ft = ft.Elem()
			}
			if ft.Kind() == reflect.Struct {
				for k, v := range jsonFields(ft) {
					if _, ok := out[k]; !ok {
						out[k] = v
					}
				}
				continue
			}
		}
		if name == "" {
			name = f.Name
		}
		out[name] = f.Type
	}
	return out
}
