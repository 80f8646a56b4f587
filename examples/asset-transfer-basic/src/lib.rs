//! asset-transfer-basic for Weft: a port of fabric-samples
//! `asset-transfer-basic/chaincode-go`, behaving as the Go contract does (function names,
//! argument order, JSON field names and order, error messages, `TransferAsset` returning
//! the old owner, `GetAllAssets` answering an empty payload when there are no assets).
//!
//! Build the WebAssembly chaincode with
//! `cargo build -p asset-transfer-basic --target wasm32-unknown-unknown --profile wasm-release`.

use serde::{Deserialize, Serialize};
use weft_chaincode_sdk::{Context, ContractError, Schema, contract};

/// An asset. As in the Go sample, fields are declared in alphabetical order so that the
/// JSON is the same from every language ("to achieve determinism across languages").
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, Schema)]
pub struct Asset {
    /// Appraised value.
    #[serde(rename = "AppraisedValue")]
    pub appraised_value: i64,
    /// Colour.
    #[serde(rename = "Color")]
    pub color: String,
    /// Asset id (the ledger key).
    #[serde(rename = "ID")]
    pub id: String,
    /// Owner.
    #[serde(rename = "Owner")]
    pub owner: String,
    /// Size.
    #[serde(rename = "Size")]
    pub size: i64,
}

impl Asset {
    fn new(id: &str, color: &str, size: i64, owner: &str, appraised_value: i64) -> Self {
        Self {
            appraised_value,
            color: color.to_owned(),
            id: id.to_owned(),
            owner: owner.to_owned(),
            size,
        }
    }
}

/// Functions for managing assets (Go's `SmartContract`, the default contract).
#[derive(Clone, Copy, Debug, Default)]
pub struct SmartContract;

#[contract(default)]
impl SmartContract {
    /// Adds a base set of assets to the ledger.
    #[transaction(submit)]
    pub fn init_ledger(&self, ctx: &mut Context) -> Result<(), ContractError> {
        let assets = [
            Asset::new("asset1", "blue", 5, "Tomoko", 300),
            Asset::new("asset2", "red", 5, "Brad", 400),
            Asset::new("asset3", "green", 10, "Jin Soo", 500),
            Asset::new("asset4", "yellow", 10, "Max", 600),
            Asset::new("asset5", "black", 15, "Adriana", 700),
            Asset::new("asset6", "white", 15, "Michel", 800),
        ];
        for asset in &assets {
            let json = serde_json::to_vec(asset)?;
            ctx.stub()
                .put_state(&asset.id, json)
                .map_err(|e| format!("failed to put to world state. {e}"))?;
        }
        Ok(())
    }

    /// Issues a new asset with the given details.
    #[transaction(submit)]
    pub fn create_asset(
        &self,
        ctx: &mut Context,
        id: String,
        color: String,
        size: i64,
        owner: String,
        appraised_value: i64,
    ) -> Result<(), ContractError> {
        if self.asset_exists(ctx, id.clone())? {
            return Err(format!("the asset {id} already exists").into());
        }
        let asset = Asset::new(&id, &color, size, &owner, appraised_value);
        Ok(ctx.stub().put_state(&id, serde_json::to_vec(&asset)?)?)
    }

    /// The asset stored under `id`.
    #[transaction(evaluate)]
    pub fn read_asset(&self, ctx: &mut Context, id: String) -> Result<Asset, ContractError> {
        let json = ctx
            .stub()
            .get_state(&id)
            .map_err(|e| format!("failed to read from world state: {e}"))?
            .ok_or_else(|| format!("the asset {id} does not exist"))?;
        Ok(serde_json::from_slice(&json)?)
    }

    /// Replaces an existing asset with the given details.
    #[transaction(submit)]
    pub fn update_asset(
        &self,
        ctx: &mut Context,
        id: String,
        color: String,
        size: i64,
        owner: String,
        appraised_value: i64,
    ) -> Result<(), ContractError> {
        if !self.asset_exists(ctx, id.clone())? {
            return Err(format!("the asset {id} does not exist").into());
        }
        let asset = Asset::new(&id, &color, size, &owner, appraised_value);
        Ok(ctx.stub().put_state(&id, serde_json::to_vec(&asset)?)?)
    }

    /// Deletes the asset `id`.
    #[transaction(submit)]
    pub fn delete_asset(&self, ctx: &mut Context, id: String) -> Result<(), ContractError> {
        if !self.asset_exists(ctx, id.clone())? {
            return Err(format!("the asset {id} does not exist").into());
        }
        Ok(ctx.stub().del_state(&id)?)
    }

    /// Whether an asset `id` exists.
    #[transaction(evaluate)]
    pub fn asset_exists(&self, ctx: &mut Context, id: String) -> Result<bool, ContractError> {
        let json = ctx
            .stub()
            .get_state(&id)
            .map_err(|e| format!("failed to read from world state: {e}"))?;
        Ok(json.is_some())
    }

    /// Gives asset `id` to `new_owner`; returns the previous owner.
    #[transaction(submit)]
    pub fn transfer_asset(
        &self,
        ctx: &mut Context,
        id: String,
        new_owner: String,
    ) -> Result<String, ContractError> {
        let mut asset = self.read_asset(ctx, id.clone())?;
        let old_owner = std::mem::replace(&mut asset.owner, new_owner);
        ctx.stub().put_state(&id, serde_json::to_vec(&asset)?)?;
        Ok(old_owner)
    }

    /// Every asset in the world state (`None`, an empty payload, when there is none: Go
    /// returns a nil slice).
    #[transaction(evaluate)]
    pub fn get_all_assets(&self, ctx: &mut Context) -> Result<Option<Vec<Asset>>, ContractError> {
        let mut assets = Vec::new();
        for kv in ctx.stub().get_state_by_range("", "")? {
            assets.push(serde_json::from_slice::<Asset>(&kv?.value)?);
        }
        Ok((!assets.is_empty()).then_some(assets))
    }
}

weft_chaincode_sdk::export!(SmartContract);

#[cfg(test)]
mod tests;
