//! Contracts and their routing, as fabric-contract-api-go does it: `Contract:Function`
//! split at the last `:`, bare names to the default contract, the function's first
//! letter upper-cased before lookup, `org.hyperledger.fabric:GetMetadata`.

use serde_json::{Map, Value, json};

use crate::convert::Components;
use crate::error::{ContractError, StubError};
use crate::host::Host;
use crate::identity::{ClientIdentity, IdentityError};
use crate::proto::Response;
use crate::stub::Stub;

/// The system contract every chaincode answers.
pub const SYSTEM_CONTRACT: &str = "org.hyperledger.fabric";

/// What a transaction method receives: the stub and the client identity.
#[derive(Debug)]
pub struct Context<'h> {
    stub: Stub<'h>,
    identity: Option<Result<ClientIdentity, IdentityError>>,
}

impl<'h> Context<'h> {
    /// A context over `stub`.
    pub fn new(stub: Stub<'h>) -> Self {
        Self {
            stub,
            identity: None,
        }
    }

    /// The ledger and the transaction (Go's `GetStub()`).
    pub fn stub(&mut self) -> &mut Stub<'h> {
        &mut self.stub
    }

    /// The submitter (Go's `GetClientIdentity()`), parsed on first use.
    pub fn client_identity(&mut self) -> Result<&ClientIdentity, IdentityError> {
        let creator = self.stub.creator();
        self.identity
            .get_or_insert_with(|| ClientIdentity::from_creator(creator))
            .as_ref()
            .map_err(Clone::clone)
    }

    /// Gives the stub back.
    pub fn into_stub(self) -> Stub<'h> {
        self.stub
    }
}

/// Submit (writes the ledger) or evaluate (query).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TxKind {
    /// `#[transaction(submit)]`.
    Submit,
    /// `#[transaction(evaluate)]`.
    Evaluate,
}

/// A transaction as the contract metadata describes it.
#[derive(Clone, Debug, PartialEq)]
pub struct TransactionInfo {
    /// Exported name.
    pub name: &'static str,
    /// Submit or evaluate.
    pub kind: TxKind,
    /// Parameter names and schemas.
    pub parameters: Vec<(&'static str, Value)>,
    /// Schema of the success value (`None` for `()`).
    pub returns: Option<Value>,
}

/// A contract: a named set of transactions. Implemented by `#[contract]`.
pub trait Contract {
    /// The contract's name (the `Contract` of `Contract:Function`).
    fn name(&self) -> &str;

    /// Whether bare function names go to this contract.
    fn is_default(&self) -> bool {
        false
    }

    /// The transactions, for the metadata; object schemas go to `components`.
    fn transactions(&self, components: &mut Components) -> Vec<TransactionInfo>;

    /// Runs before every transaction routed to this contract (Go's
    /// `BeforeTransaction`, a `#[before_transaction]` method); an error ends it.
    fn before_transaction(&self, _ctx: &mut Context<'_>) -> Result<(), ContractError> {
        Ok(())
    }

    /// Runs after every successful transaction with its payload (Go's
    /// `AfterTransaction`, an `#[after_transaction]` method); an error replaces the
    /// result.
    fn after_transaction(
        &self,
        _ctx: &mut Context<'_>,
        _payload: &[u8],
    ) -> Result<(), ContractError> {
        Ok(())
    }

    /// Answers a function the contract does not have (Go's `UnknownTransaction`, an
    /// `#[unknown_transaction]` method); `None`: Go's "Function … not found" error.
    fn unknown_transaction(
        &self,
        _ctx: &mut Context<'_>,
    ) -> Option<Result<Vec<u8>, ContractError>> {
        None
    }

    /// Runs transaction `function` (first letter already upper-cased) with `args`;
    /// `None` if the contract has no such transaction.
    fn invoke(
        &self,
        ctx: &mut Context<'_>,
        function: &str,
        args: &[Vec<u8>],
    ) -> Option<Result<Vec<u8>, ContractError>>;
}

/// Go's `toFirstRuneUpperCase`.
fn first_upper(name: &str) -> String {
    let mut chars = name.chars();
    chars.next().map_or_else(String::new, |first| {
        first.to_uppercase().chain(chars).collect()
    })
}

/// Converts parameter `index` (`name`) of a transaction; the error is Go's text. Used by
/// the code `#[contract]` generates.
#[doc(hidden)]
pub fn arg<T: crate::convert::FromArg>(
    args: &[Vec<u8>],
    index: usize,
    name: &str,
) -> Result<T, ContractError> {
    let raw = args.get(index).map(Vec::as_slice).unwrap_or_default();
    T::from_arg(raw).map_err(|e| {
        ContractError::new(format!(
            "error managing parameter {name}. conversion error. {e}"
        ))
    })
}

/// Checks the argument count (Go: too few is an error, extra ones are ignored).
#[doc(hidden)]
pub fn check_arity(args: &[Vec<u8>], expected: usize) -> Result<(), ContractError> {
    if args.len() < expected {
        return Err(ContractError::new(format!(
            "incorrect number of params. Expected {expected}, received {}",
            args.len()
        )));
    }
    Ok(())
}

/// A chaincode: its contracts, routed as fabric-contract-api-go routes them.
pub struct Chaincode {
    contracts: Vec<Box<dyn Contract>>,
    title: String,
    version: String,
}

impl std::fmt::Debug for Chaincode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Chaincode")
            .field(
                "contracts",
                &self.contracts.iter().map(|c| c.name()).collect::<Vec<_>>(),
            )
            .finish_non_exhaustive()
    }
}

impl Default for Chaincode {
    fn default() -> Self {
        Self::new()
    }
}

impl Chaincode {
    /// A chaincode without contracts.
    pub fn new() -> Self {
        Self {
            contracts: Vec::new(),
            title: "undefined".into(),
            version: "latest".into(),
        }
    }

    /// Adds a contract. The default contract is the one marked `default`, else the first.
    pub fn with(mut self, contract: impl Contract + 'static) -> Self {
        self.contracts.push(Box::new(contract));
        self
    }

    /// Sets the metadata's `info` (title, version).
    pub fn info(mut self, title: &str, version: &str) -> Self {
        title.clone_into(&mut self.title);
        version.clone_into(&mut self.version);
        self
    }

    fn default_contract(&self) -> Option<&dyn Contract> {
        self.contracts
            .iter()
            .find(|c| c.is_default())
            .or_else(|| self.contracts.first())
            .map(|c| &**c)
    }

    /// The contract metadata (`org.hyperledger.fabric:GetMetadata`).
    pub fn metadata(&self) -> Value {
        let default = self.default_contract().map(|c| c.name().to_owned());
        let mut components = Components::new();
        let mut contracts = Map::new();
        let tag = |kind: TxKind| match kind {
            TxKind::Submit => json!(["submit", "SUBMIT"]),
            TxKind::Evaluate => json!(["evaluate", "EVALUATE"]),
        };
        for contract in &self.contracts {
            let mut transactions = contract.transactions(&mut components);
            transactions.sort_by_key(|t| t.name);
            let transactions: Vec<Value> = transactions
                .into_iter()
                .map(|t| {
                    let mut tx = Map::new();
                    if !t.parameters.is_empty() {
                        let parameters: Vec<Value> = t
                            .parameters
                            .into_iter()
                            .map(|(name, schema)| json!({"name": name, "schema": schema}))
                            .collect();
                        tx.insert("parameters".into(), Value::Array(parameters));
                    }
                    if let Some(returns) = t.returns {
                        tx.insert("returns".into(), returns);
                    }
                    tx.insert("tag".into(), tag(t.kind));
                    tx.insert("name".into(), json!(t.name));
                    Value::Object(tx)
                })
                .collect();
            let name = contract.name();
            contracts.insert(
                name.to_owned(),
                json!({
                    "info": {"title": name, "version": "latest"},
                    "name": name,
                    "transactions": transactions,
                    "default": default.as_deref() == Some(name),
                }),
            );
        }
        contracts.insert(
            SYSTEM_CONTRACT.into(),
            json!({
                "info": {"title": SYSTEM_CONTRACT, "version": "latest"},
                "name": SYSTEM_CONTRACT,
                "transactions": [{
                    "returns": {"type": "string"},
                    "tag": ["evaluate", "EVALUATE"],
                    "name": "GetMetadata",
                }],
                "default": false,
            }),
        );
        let mut metadata = json!({
            "info": {"title": self.title, "version": self.version},
            "contracts": contracts,
            "components": {},
        });
        if !components.is_empty() {
            metadata["components"] = json!({"schemas": components});
        }
        metadata
    }

    /// Routes the transaction in `ctx` and returns the payload or the error.
    pub fn dispatch(&self, ctx: &mut Context<'_>) -> Result<Vec<u8>, ContractError> {
        let (function, _) = ctx.stub().function_and_parameters();
        let args: Vec<Vec<u8>> = ctx.stub().args().iter().skip(1).cloned().collect();
        let (namespace, function) = match function.rfind(':') {
            Some(at) => (function[..at].to_owned(), function[at + 1..].to_owned()),
            None => (
                self.default_contract()
                    .map(|c| c.name().to_owned())
                    .unwrap_or_default(),
                function,
            ),
        };
        if namespace == SYSTEM_CONTRACT {
            if function.is_empty() {
                return Err("Blank function name passed".into());
            }
            if first_upper(&function) == "GetMetadata" {
                return Ok(self.metadata().to_string().into_bytes());
            }
            return Err(format!("Function {function} not found in contract {namespace}").into());
        }
        let Some(contract) = self.contracts.iter().find(|c| c.name() == namespace) else {
            return Err(format!("Contract not found with name {namespace}").into());
        };
        if function.is_empty() {
            return Err("Blank function name passed".into());
        }
        contract.before_transaction(ctx)?;
        let payload = match contract.invoke(ctx, &first_upper(&function), &args) {
            Some(result) => result?,
            None => match contract.unknown_transaction(ctx) {
                Some(result) => result?,
                None => {
                    return Err(
                        format!("Function {function} not found in contract {namespace}").into(),
                    );
                }
            },
        };
        contract.after_transaction(ctx, &payload)?;
        Ok(payload)
    }

    /// Executes the transaction in `ctx`: the `Response` Fabric's Go contract API gives
    /// (200 with the payload, or 500 with the error message).
    pub fn execute(&self, ctx: &mut Context<'_>) -> Response {
        let is_init = ctx.stub().is_init();
        if is_init && ctx.stub().args().first().is_none_or(Vec::is_empty) {
            return Response {
                status: 200,
                message: String::new(),
                payload: b"Default initiator successful.".to_vec(),
            };
        }
        match self.dispatch(ctx) {
            Ok(payload) => Response {
                status: 200,
                message: String::new(),
                payload,
            },
            Err(e) => Response {
                status: 500,
                message: e.to_string(),
                payload: Vec::new(),
            },
        }
    }

    /// Runs one transaction on `host`: fetches it, executes it, completes it.
    pub fn run(&self, host: &mut dyn Host) -> Result<(), StubError> {
        let stub = Stub::from_host(host)?;
        let mut ctx = Context::new(stub);
        let response = self.execute(&mut ctx);
        ctx.into_stub().complete(&response);
        Ok(())
    }
}
