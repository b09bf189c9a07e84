package api

import (
	"encoding/json"
	"reflect"
	"strings"
	"time"

	"github.com/entledger/ledger/billing"
	"github.com/entledger/ledger/commands"
	"github.com/entledger/ledger/events"
	"github.com/entledger/ledger/ledger"
	"github.com/entledger/ledger/projections"
)

// The component schemas of the OpenAPI document. The answers the API
// builds from Go types (the views) are described from those types by
// reflection, so that a field added to a view is documented at once; the
// others are written here with the helpers below.

// Schemas of single values.
var (
	str            = schema{"type": "string"}
	integer        = schema{"type": "integer"}
	number         = schema{"type": "number"}
	boolean        = schema{"type": "boolean"}
	dateTime       = schema{"type": "string", "format": "date-time"}
	date           = schema{"type": "string", "format": "date"}
	email          = schema{"type": "string", "minLength": 3, "maxLength": 254, "description": "An email (rule A5): at most 254 bytes; stored and answered in Unicode NFC and lower case, and compared so."}
	country        = schema{"type": "string", "description": "ISO 3166-1 alpha-2; lower case accepted."}
	at             = schema{"type": "string", "format": "date-time", "description": "The business time of the change (docs/api.md#business-time-at)."}
	accountID      = pattern(events.AccountIDPattern.String())
	machineID      = pattern(events.MachineIDPattern.String())
	clientVersion  = pattern(events.VersionPattern)
	subscriberName = pattern(events.SubscriberNamePattern.String())
)

// ref refers to the component schema name.
func ref(name string) schema { return schema{"$ref": "#/components/schemas/" + name} }

// pattern is a string matching the regular expression p.
func pattern(p string) schema { return schema{"type": "string", "pattern": p} }

// constant is the one value v.
func constant(v any) schema { return schema{"const": v} }

// enum is a string that is one of values.
func enum(values ...string) schema { return schema{"type": "string", "enum": values} }

// text is a string of min to max characters (0: no bound).
func text(min, max int) schema {
	s := schema{"type": "string"}
	if min > 0 {
		s["minLength"] = min
	}
	if max > 0 {
		s["maxLength"] = max
	}
	return s
}

// bounded is a whole number from min, to max unless max is 0.
func bounded(min, max int) schema {
	s := schema{"type": "integer", "minimum": min}
	if max > 0 {
		s["maximum"] = max
	}
	return s
}

// arrayOf is an array of items.
func arrayOf(items schema) schema { return schema{"type": "array", "items": items} }

// page is one page of a paginated list of the component item:
// {items, next_cursor}, next_cursor null on the last page.
func page(item string) schema {
	return fields("items", arrayOf(ref(item)), "next_cursor", orNull(str))
}

// orNull is s or null.
func orNull(s schema) schema {
	if _, isRef := s["$ref"]; isRef {
		return schema{"anyOf": []any{s, schema{"type": "null"}}}
	}
	out := schema{}
	for k, v := range s {
		out[k] = v
	}
	out["type"] = []any{s["type"], "null"}
	return out
}

// fields is a closed object: pairs of a property's name and its schema. A
// name ending in "?" is optional; every other one is required.
func fields(pairs ...any) schema {
	props, required := schema{}, []any{}
	for i := 0; i+1 < len(pairs); i += 2 {
		name := pairs[i].(string)
		if n, optional := strings.CutSuffix(name, "?"); optional {
			name = n
		} else {
			required = append(required, name)
		}
		props[name] = pairs[i+1]
	}
	return schema{"type": "object", "properties": props, "required": required, "additionalProperties": false}
}

// componentSchemas are the document's components.schemas.
func componentSchemas() map[string]any {
	c := &components{out: map[string]any{}, names: map[reflect.Type]string{}}
	for name, v := range map[string]any{
		"Account": AccountView{}, "User": UserView{}, "Session": SessionView{}, "License": LicenseView{},
		"Checkout": CheckoutView{}, "Access": AccessView{}, "Check": CheckView{}, "Token": TokenView{},
		"Subscriber": SubscriberView{}, "Threshold": ThresholdView{}, "Domain": DomainView{}, "Reminder": ledger.Reminder{},
		"QTLReport": billing.Report{}, "QTLAdvice": billing.Advice{}, "PeakEvidence": billing.Evidence{}, "Alert": projections.Alert{},
		"ExportedEvent": ledger.ExportedEvent{}, "SchemaList": SchemaList{}, "Point": billing.Point{},
		"CreatedToken": struct {
			TokenView
			Token *string `json:"token"`
		}{},
		"CreatedSubscriber": struct {
			SubscriberView
			NATSPassword *string `json:"nats_password"`
		}{},
	} {
		c.names[reflect.TypeOf(v)] = name
	}
	given := make([]reflect.Type, 0, len(c.names))
	for t := range c.names {
		given = append(given, t)
	}
	for _, t := range given {
		c.define(t)
	}
	for name, s := range handwritten() {
		c.out[name] = s
	}
	for key, s := range fieldDocs {
		name, field, _ := strings.Cut(key, ".")
		props := c.out[name].(schema)["properties"].(schema)
		merged := schema{}
		for k, v := range props[field].(schema) {
			merged[k] = v
		}
		for k, v := range s {
			merged[k] = v
		}
		props[field] = merged
	}
	return c.out
}

// fieldDocs add to the reflected schema of a component's field
// ("Component.field"): what the Go type cannot say.
var fieldDocs = map[string]schema{
	"License.kind":       {"enum": []string{events.KindPractitioner, events.KindCommercial, events.KindTrial}},
	"License.lock_state": {"enum": []string{"none", "window_open", "locked"}},
	"Access.default":     {"enum": []string{"allow", "deny"}},
	"Token.role":         {"enum": []string{events.RoleAdmin, events.RoleAccountAdmin, events.RoleAuditor, events.RoleIngest, events.RoleSubscriber}},
	"Token.account":      {"description": "null: every account."},
	"Token.actor":        {"description": "How events name what the token did (S3)."},
	"Check.reason":       {"description": "The license_type when granted; otherwise why not (docs/api.md#check)."},
}

// handwritten are the schemas of answers the API builds without a Go type.
func handwritten() map[string]schema {
	totals := fields("hours", number, "machines", integer, "sessions", integer, "users", integer)
	var envelope schema
	if err := json.Unmarshal(events.EnvelopeSchema(), &envelope); err != nil {
		panic("api: the envelope schema is not JSON: " + err.Error())
	}
	delete(envelope, "$schema")
	return map[string]schema{
		"Event":      envelope,
		"History":    fields("events", arrayOf(ref("Event"))),
		"JSONSchema": {"type": "object", "description": "A JSON Schema (draft 2020-12)."},
		"Readiness":  fields("status", enum("ready", "not ready"), "reason?", str),
		"Error": fields("error", fields("code", enum(commands.Codes...), "message", str,
			"details?", schema{"type": "object", "description": "Machine-readable facts of the error; absent when there are none."})),
		"EventKey": fields("algorithm", constant("Ed25519"), "key_id", str, "header", constant(events.SignatureHeader),
			"signed", str, "public_key_pem", str),
		"CheckoutKey": fields("algorithm", constant("Ed25519"), "key_id", str, "token_format", str, "signed", str,
			"public_key_pem", str),
		"UsageRecord": fields("usage_id", pattern(events.UsageIDPattern.String()), "email", email,
			"product", pattern(events.ProductIDPattern.String()), "machine_id", machineID, "client_version", clientVersion,
			"started_at", dateTime, "ended_at", dateTime, "offline?", boolean),
		"UsageAnswer": fields("accepted", integer, "duplicates", integer, "results", arrayOf(fields(
			"classification", enum(events.ClassPractitioner, events.ClassPooled, events.ClassTrial), "duplicate", boolean,
			"license_id", orNull(str), "usage_id", str))),
		"UsageSummary": fields("account", str, "from", date, "to", date, "days", arrayOf(fields("day", date, "product", str,
			events.ClassPooled, totals, events.ClassPractitioner, totals, events.ClassTrial, totals))),
		"Peaks": fields("product", str, "intervals", arrayOf(ref("Point"))),
	}
}

// components describes Go types as component schemas.
type components struct {
	out   map[string]any
	names map[reflect.Type]string // the component of each named type
}

// define adds the schema of struct type t as its component.
func (c *components) define(t reflect.Type) {
	name := c.nameOf(t)
	if _, done := c.out[name]; done {
		return
	}
	c.out[name] = schema{} // a placeholder, against recursion
	props, required := schema{}, []any{}
	c.addFields(t, props, &required)
	c.out[name] = schema{"type": "object", "properties": props, "required": required, "additionalProperties": false}
}

// nameOf is the component name of struct type t: the one given, or its
// Go name without "View".
func (c *components) nameOf(t reflect.Type) string {
	if name, ok := c.names[t]; ok {
		return name
	}
	name := strings.TrimSuffix(t.Name(), "View")
	c.names[t] = name
	return name
}

// addFields describes the JSON fields of struct t, those of embedded
// structs included, as encoding/json writes them: a field of t hides a
// field of the same name in a struct t embeds.
func (c *components) addFields(t reflect.Type, props schema, required *[]any) {
	own := map[string]bool{}
	for i := 0; i < t.NumField(); i++ {
		if name, _, ok := jsonField(t.Field(i)); ok {
			own[name] = true
		}
	}
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if _, hasTag := f.Tag.Lookup("json"); f.Anonymous && !hasTag && f.Type.Kind() == reflect.Struct {
			inner, innerRequired := schema{}, []any{}
			c.addFields(f.Type, inner, &innerRequired)
			for name, s := range inner {
				if !own[name] {
					props[name] = s
				}
			}
			for _, name := range innerRequired {
				if !own[name.(string)] {
					*required = append(*required, name)
				}
			}
			continue
		}
		name, omitempty, ok := jsonField(f)
		if !ok {
			continue
		}
		props[name] = c.typeSchema(f.Type)
		if !omitempty {
			*required = append(*required, name)
		}
	}
}

// jsonField is the JSON name of struct field f and whether it is
// omitempty; ok is false for a field encoding/json leaves out or an
// embedded struct whose fields it lifts.
func jsonField(f reflect.StructField) (name string, omitempty, ok bool) {
	tag, hasTag := f.Tag.Lookup("json")
	if f.Anonymous && !hasTag && f.Type.Kind() == reflect.Struct {
		return "", false, false
	}
	name, opts, _ := strings.Cut(tag, ",")
	if !f.IsExported() || name == "-" {
		return "", false, false
	}
	if name == "" {
		name = f.Name
	}
	return name, strings.Contains(opts, "omitempty"), true
}

var (
	timeType    = reflect.TypeOf(time.Time{})
	rawType     = reflect.TypeOf(json.RawMessage(nil))
	countryType = reflect.TypeOf(events.Country(""))
)

// typeSchema is the schema of the JSON encoding/json writes for t.
func (c *components) typeSchema(t reflect.Type) schema {
	switch {
	case t == timeType:
		return dateTime
	case t == rawType:
		return ref("Event")
	case t == countryType:
		return orNull(pattern(events.CountryPattern))
	}
	switch t.Kind() {
	case reflect.Pointer:
		return orNull(c.typeSchema(t.Elem()))
	case reflect.String:
		return str
	case reflect.Bool:
		return boolean
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return integer
	case reflect.Float32, reflect.Float64:
		return number
	case reflect.Slice, reflect.Array:
		return arrayOf(c.typeSchema(t.Elem()))
	case reflect.Map:
		if t.Elem().Kind() == reflect.Interface {
			return schema{"type": "object"}
		}
		return schema{"type": "object", "additionalProperties": c.typeSchema(t.Elem())}
	case reflect.Struct:
		c.define(t)
		return ref(c.nameOf(t))
	}
	return schema{}
}
