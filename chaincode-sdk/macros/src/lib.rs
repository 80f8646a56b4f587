//! Attribute macros of the Weft chaincode SDK (`weft-chaincode-sdk` re-exports them):
//!
//! - `#[contract(name = "…", default)]` on an `impl` block turns the methods marked
//!   `#[transaction(submit)]` / `#[transaction(evaluate)]` (optionally `name = "…"`)
//!   into a `weft_chaincode_sdk::Contract`;
//! - `#[derive(Schema)]` on a serde struct gives it a metadata schema and JSON argument
//!   and payload conversions.

use proc_macro::TokenStream;
use proc_macro2::{Span, TokenStream as TokenStream2};
use quote::{format_ident, quote};
use syn::parse::Parser;
use syn::punctuated::Punctuated;
use syn::spanned::Spanned;
use syn::{
    Data, DeriveInput, Error, Expr, ExprLit, Fields, FnArg, GenericArgument, ImplItem, ItemImpl,
    Lit, Meta, Pat, PathArguments, ReturnType, Token, Type,
};

/// `create_asset` → `CreateAsset`.
fn pascal_case(name: &str) -> String {
    name.split('_')
        .filter(|part| !part.is_empty())
        .map(|part| {
            let mut chars = part.chars();
            chars.next().map_or_else(String::new, |first| {
                first.to_uppercase().chain(chars).collect()
            })
        })
        .collect()
}

fn string_value(expr: &Expr) -> syn::Result<String> {
    match expr {
        Expr::Lit(ExprLit {
            lit: Lit::Str(s), ..
        }) => Ok(s.value()),
        other => Err(Error::new(other.span(), "expected a string literal")),
    }
}

struct ContractArgs {
    name: Option<String>,
    default: bool,
}

fn parse_contract_args(attr: TokenStream2) -> syn::Result<ContractArgs> {
    let metas = Punctuated::<Meta, Token![,]>::parse_terminated.parse2(attr)?;
    let mut args = ContractArgs {
        name: None,
        default: false,
    };
    for meta in metas {
        match &meta {
            Meta::Path(p) if p.is_ident("default") => args.default = true,
            Meta::NameValue(nv) if nv.path.is_ident("name") => {
                args.name = Some(string_value(&nv.value)?);
            }
            other => {
                return Err(Error::new(
                    other.span(),
                    "expected `name = \"…\"` or `default`",
                ));
            }
        }
    }
    Ok(args)
}

struct TxArgs {
    submit: bool,
    name: Option<String>,
}

fn parse_tx_args(meta: &Meta) -> syn::Result<TxArgs> {
    let mut args = TxArgs {
        submit: true,
        name: None,
    };
    let Meta::List(list) = meta else {
        return Ok(args);
    };
    let metas = Punctuated::<Meta, Token![,]>::parse_terminated.parse2(list.tokens.clone())?;
    for meta in metas {
        match &meta {
            Meta::Path(p) if p.is_ident("submit") => args.submit = true,
            Meta::Path(p) if p.is_ident("evaluate") => args.submit = false,
            Meta::NameValue(nv) if nv.path.is_ident("name") => {
                args.name = Some(string_value(&nv.value)?);
            }
            other => {
                return Err(Error::new(
                    other.span(),
                    "expected `submit`, `evaluate` or `name = \"…\"`",
                ));
            }
        }
    }
    Ok(args)
}

/// Whether `ty` is `&mut Context…`.
fn is_context(ty: &Type) -> bool {
    match ty {
        Type::Reference(r) => match &*r.elem {
            Type::Path(p) => p.path.segments.last().is_some_and(|s| s.ident == "Context"),
            _ => false,
        },
        _ => false,
    }
}

/// `T` of `Result<T, E>` (or of any single-path type's first generic argument).
fn result_ok_type(ty: &Type) -> Option<&Type> {
    let Type::Path(p) = ty else { return None };
    let last = p.path.segments.last()?;
    if last.ident != "Result" {
        return None;
    }
    let PathArguments::AngleBracketed(args) = &last.arguments else {
        return None;
    };
    args.args.iter().find_map(|a| match a {
        GenericArgument::Type(t) => Some(t),
        _ => None,
    })
}

fn is_unit(ty: &Type) -> bool {
    matches!(ty, Type::Tuple(t) if t.elems.is_empty())
}

struct Transaction {
    exported: String,
    submit: bool,
    method: syn::Ident,
    has_self: bool,
    takes_ctx: bool,
    params: Vec<(String, Type)>,
    returns: ReturnType,
}

fn contract_impl(attr: TokenStream2, item: TokenStream2) -> syn::Result<TokenStream2> {
    let args = parse_contract_args(attr)?;
    let mut block: ItemImpl = syn::parse2(item)?;
    let self_ty = block.self_ty.clone();
    let type_name = match &*self_ty {
        Type::Path(p) => p
            .path
            .segments
            .last()
            .map(|s| s.ident.to_string())
            .unwrap_or_default(),
        other => return Err(Error::new(other.span(), "expected a named type")),
    };
    let name = args.name.unwrap_or(type_name);
    let default = args.default;

    let mut transactions = Vec::new();
    let mut hooks = Vec::new();
    for item in &mut block.items {
        let ImplItem::Fn(method) = item else { continue };
        for hook in [
            "before_transaction",
            "after_transaction",
            "unknown_transaction",
        ] {
            if let Some(position) = method.attrs.iter().position(|a| a.path().is_ident(hook)) {
                method.attrs.remove(position);
                let has_self = matches!(method.sig.inputs.first(), Some(FnArg::Receiver(_)));
                hooks.push((hook, method.sig.ident.clone(), has_self));
            }
        }
        let Some(position) = method
            .attrs
            .iter()
            .position(|a| a.path().is_ident("transaction"))
        else {
            continue;
        };
        let attr = method.attrs.remove(position);
        let tx_args = parse_tx_args(&attr.meta)?;
        let mut has_self = false;
        let mut takes_ctx = false;
        let mut params = Vec::new();
        for (index, input) in method.sig.inputs.iter().enumerate() {
            match input {
                FnArg::Receiver(r) => {
                    if r.reference.is_none() || r.mutability.is_some() {
                        return Err(Error::new(r.span(), "transactions take `&self`"));
                    }
                    has_self = true;
                }
                FnArg::Typed(pt) => {
                    let first_typed = index == usize::from(has_self);
                    if first_typed && is_context(&pt.ty) {
                        takes_ctx = true;
                        continue;
                    }
                    let Pat::Ident(ident) = &*pt.pat else {
                        return Err(Error::new(
                            pt.pat.span(),
                            "transaction parameters must be plain identifiers",
                        ));
                    };
                    let param = ident.ident.to_string();
                    let param = param.trim_start_matches('_').to_owned();
                    params.push((param, (*pt.ty).clone()));
                }
            }
        }
        let method_name = method.sig.ident.to_string();
        transactions.push(Transaction {
            exported: tx_args
                .name
                .unwrap_or_else(|| pascal_case(method_name.trim_start_matches("r#"))),
            submit: tx_args.submit,
            method: method.sig.ident.clone(),
            has_self,
            takes_ctx,
            params,
            returns: method.sig.output.clone(),
        });
    }
    if transactions.is_empty() {
        return Err(Error::new(
            Span::call_site(),
            "a contract needs at least one #[transaction] method",
        ));
    }

    let sdk = quote!(::weft_chaincode_sdk);
    let arms = transactions.iter().map(|t| {
        let exported = &t.exported;
        let method = &t.method;
        let count = t.params.len();
        let vars: Vec<_> = (0..count).map(|i| format_ident!("__arg{i}")).collect();
        let conversions = t.params.iter().zip(&vars).enumerate().map(|(i, ((pname, ty), var))| {
            quote! { let #var: #ty = #sdk::contract::arg(__args, #i, #pname)?; }
        });
        let ctx_arg = t.takes_ctx.then(|| quote!(__ctx,));
        let call = if t.has_self {
            quote!(self.#method(#ctx_arg #(#vars),*))
        } else {
            quote!(<#self_ty>::#method(#ctx_arg #(#vars),*))
        };
        let result = match &t.returns {
            ReturnType::Default => quote! { #call; ::core::result::Result::Ok(::std::vec::Vec::new()) },
            ReturnType::Type(..) => quote! { #sdk::IntoTxResult::into_tx_result(#call) },
        };
        quote! {
            #exported => ::core::option::Option::Some((|| -> ::core::result::Result<::std::vec::Vec<u8>, #sdk::ContractError> {
                #sdk::contract::check_arity(__args, #count)?;
                #(#conversions)*
                #result
            })()),
        }
    });
    let infos = transactions.iter().map(|t| {
        let exported = &t.exported;
        let kind = if t.submit {
            quote!(#sdk::TxKind::Submit)
        } else {
            quote!(#sdk::TxKind::Evaluate)
        };
        let params = t.params.iter().map(|(pname, ty)| {
            quote! { (#pname, <#ty as #sdk::Schema>::schema(__components)) }
        });
        let returns = match &t.returns {
            ReturnType::Type(_, ty) => match result_ok_type(ty) {
                Some(ok) if !is_unit(ok) => {
                    quote!(::core::option::Option::Some(<#ok as #sdk::Schema>::schema(__components)))
                }
                _ => quote!(::core::option::Option::None),
            },
            ReturnType::Default => quote!(::core::option::Option::None),
        };
        quote! {
            #sdk::TransactionInfo {
                name: #exported,
                kind: #kind,
                parameters: ::std::vec![#(#params),*],
                returns: #returns,
            }
        }
    });
    let hooks = hooks.iter().map(|(hook, method, has_self)| {
        let target = if *has_self {
            quote!(self.#method)
        } else {
            quote!(<#self_ty>::#method)
        };
        match *hook {
            "before_transaction" => quote! {
                fn before_transaction(
                    &self,
                    __ctx: &mut #sdk::Context<'_>,
                ) -> ::core::result::Result<(), #sdk::ContractError> {
                    #sdk::IntoTxResult::into_tx_result(#target(__ctx)).map(|_| ())
                }
            },
            "after_transaction" => quote! {
                fn after_transaction(
                    &self,
                    __ctx: &mut #sdk::Context<'_>,
                    __payload: &[u8],
                ) -> ::core::result::Result<(), #sdk::ContractError> {
                    #sdk::IntoTxResult::into_tx_result(#target(__ctx, __payload)).map(|_| ())
                }
            },
            _ => quote! {
                fn unknown_transaction(
                    &self,
                    __ctx: &mut #sdk::Context<'_>,
                ) -> ::core::option::Option<::core::result::Result<::std::vec::Vec<u8>, #sdk::ContractError>> {
                    ::core::option::Option::Some(#sdk::IntoTxResult::into_tx_result(#target(__ctx)))
                }
            },
        }
    });
    let (impl_generics, _, where_clause) = block.generics.split_for_impl();
    Ok(quote! {
        #block

        impl #impl_generics #sdk::Contract for #self_ty #where_clause {
            fn name(&self) -> &str {
                #name
            }

            fn is_default(&self) -> bool {
                #default
            }

            #(#hooks)*

            fn transactions(
                &self,
                __components: &mut #sdk::Components,
            ) -> ::std::vec::Vec<#sdk::TransactionInfo> {
                ::std::vec![#(#infos),*]
            }

            #[allow(unused_variables, clippy::redundant_closure_call)]
            fn invoke(
                &self,
                __ctx: &mut #sdk::Context<'_>,
                __function: &str,
                __args: &[::std::vec::Vec<u8>],
            ) -> ::core::option::Option<::core::result::Result<::std::vec::Vec<u8>, #sdk::ContractError>> {
                match __function {
                    #(#arms)*
                    _ => ::core::option::Option::None,
                }
            }
        }
    })
}

/// Turns the `#[transaction]` methods of an `impl` block into a Fabric contract.
///
/// `#[contract(name = "basic", default)]`: the contract's name (default: the type's
/// name) and whether bare function names route to it. Each `#[transaction(submit)]` or
/// `#[transaction(evaluate)]` method (optionally `name = "Exported"`; default: the
/// method name in PascalCase) takes `&self` (optional), `ctx: &mut Context` (optional)
/// and parameters implementing `FromArg + Schema`, and returns nothing or
/// `Result<T, E>` with `T: IntoPayload + Schema` and `E: Into<ContractError>`.
///
/// Hooks, as fabric-contract-api-go's: a `#[before_transaction]` method `(ctx) ->
/// Result<(), E>` runs before every transaction of the contract, an
/// `#[after_transaction]` method `(ctx, payload: &[u8]) -> Result<(), E>` after every
/// successful one, an `#[unknown_transaction]` method `(ctx) -> Result<T, E>` answers
/// unknown function names.
#[proc_macro_attribute]
pub fn contract(attr: TokenStream, item: TokenStream) -> TokenStream {
    contract_impl(attr.into(), item.into())
        .unwrap_or_else(Error::into_compile_error)
        .into()
}

/// The serde renaming rules the derive understands.
fn rename_all(rule: &str, field: &str) -> String {
    match rule {
        "PascalCase" => pascal_case(field),
        "camelCase" => {
            let pascal = pascal_case(field);
            let mut chars = pascal.chars();
            chars.next().map_or_else(String::new, |first| {
                first.to_lowercase().chain(chars).collect()
            })
        }
        "lowercase" => field.replace('_', "").to_lowercase(),
        "UPPERCASE" => field.replace('_', "").to_uppercase(),
        "SCREAMING_SNAKE_CASE" => field.to_uppercase(),
        "kebab-case" => field.replace('_', "-"),
        _ => field.to_owned(),
    }
}

/// `#[serde(key = "value")]` entries of some attributes, and bare flags as `(flag, "")`.
fn serde_entries(attrs: &[syn::Attribute]) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for attr in attrs.iter().filter(|a| a.path().is_ident("serde")) {
        let Meta::List(list) = &attr.meta else {
            continue;
        };
        let Ok(metas) = Punctuated::<Meta, Token![,]>::parse_terminated.parse2(list.tokens.clone())
        else {
            continue;
        };
        for meta in metas {
            match meta {
                Meta::NameValue(nv) => {
                    if let (Some(key), Ok(value)) = (nv.path.get_ident(), string_value(&nv.value)) {
                        out.push((key.to_string(), value));
                    }
                }
                Meta::Path(p) => {
                    if let Some(key) = p.get_ident() {
                        out.push((key.to_string(), String::new()));
                    }
                }
                Meta::List(_) => {}
            }
        }
    }
    out
}

fn is_option(ty: &Type) -> bool {
    matches!(ty, Type::Path(p) if p.path.segments.last().is_some_and(|s| s.ident == "Option"))
}

fn schema_derive(input: DeriveInput) -> syn::Result<TokenStream2> {
    let ident = &input.ident;
    let name = ident.to_string();
    let Data::Struct(data) = &input.data else {
        return Err(Error::new(
            input.span(),
            "#[derive(Schema)] supports structs with named fields",
        ));
    };
    let Fields::Named(fields) = &data.fields else {
        return Err(Error::new(
            input.span(),
            "#[derive(Schema)] supports structs with named fields",
        ));
    };
    let container = serde_entries(&input.attrs);
    let rule = container
        .iter()
        .find(|(k, _)| k == "rename_all")
        .map(|(_, v)| v.clone());
    let mut properties = Vec::new();
    let mut required = Vec::new();
    for field in &fields.named {
        let entries = serde_entries(&field.attrs);
        if entries
            .iter()
            .any(|(k, _)| k == "skip" || k == "skip_serializing")
        {
            continue;
        }
        let rust_name = field
            .ident
            .as_ref()
            .map(|i| i.to_string().trim_start_matches("r#").to_owned())
            .unwrap_or_default();
        let json_name = entries
            .iter()
            .find(|(k, _)| k == "rename")
            .map(|(_, v)| v.clone())
            .unwrap_or_else(|| match &rule {
                Some(rule) => rename_all(rule, &rust_name),
                None => rust_name.clone(),
            });
        let ty = &field.ty;
        if !is_option(ty) && !entries.iter().any(|(k, _)| k == "default") {
            required.push(json_name.clone());
        }
        properties.push(quote! {
            __properties.insert(
                ::std::string::String::from(#json_name),
                <#ty as ::weft_chaincode_sdk::Schema>::schema(__components),
            );
        });
    }
    let (impl_generics, ty_generics, where_clause) = input.generics.split_for_impl();
    let sdk = quote!(::weft_chaincode_sdk);
    Ok(quote! {
        impl #impl_generics #sdk::Schema for #ident #ty_generics #where_clause {
            fn schema(__components: &mut #sdk::Components) -> #sdk::__private::Value {
                if !__components.contains_key(#name) {
                    // Registered first so that recursive types terminate.
                    __components.insert(::std::string::String::from(#name), #sdk::__private::Value::Null);
                    let mut __properties = ::std::collections::BTreeMap::new();
                    #(#properties)*
                    let __schema = #sdk::__private::json!({
                        "$id": #name,
                        "type": "object",
                        "properties": __properties,
                        "required": [#(#required),*],
                        "additionalProperties": false,
                    });
                    __components.insert(::std::string::String::from(#name), __schema);
                }
                #sdk::__private::json!({"$ref": ::std::format!("#/components/schemas/{}", #name)})
            }
        }

        impl #impl_generics #sdk::FromArg for #ident #ty_generics #where_clause {
            fn from_arg(arg: &[u8]) -> ::core::result::Result<Self, ::std::string::String> {
                #sdk::convert::from_json_arg(arg)
            }
        }

        impl #impl_generics #sdk::IntoPayload for #ident #ty_generics #where_clause {
            fn into_payload(self) -> ::std::vec::Vec<u8> {
                #sdk::convert::to_json_payload(&self)
            }
        }
    })
}

/// Derives `Schema` (an object schema in `components.schemas`, named after the type,
/// with serde's `rename`/`rename_all`), and JSON `FromArg` / `IntoPayload`, for a struct
/// that also derives serde's `Serialize` and `Deserialize`.
#[proc_macro_derive(Schema, attributes(serde))]
pub fn derive_schema(input: TokenStream) -> TokenStream {
    syn::parse::<DeriveInput>(input)
        .and_then(schema_derive)
        .unwrap_or_else(Error::into_compile_error)
        .into()
}
