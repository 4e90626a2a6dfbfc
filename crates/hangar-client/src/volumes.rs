//! `/v1/apps/{app}/volumes`: volumes and their snapshots.

use hangar_types::{
    CreateVolumeRequest, ExtendVolumeRequest, ExtendVolumeResponse, UpdateVolumeRequest, Volume,
    VolumeSnapshot,
};
use reqwest::Method;

use crate::{Client, ClientError};

impl Client {
    /// `GET /v1/apps/{app}/volumes`.
    pub async fn list_volumes(&self, app: &str) -> Result<Vec<Volume>, ClientError> {
        self.get_json(self.url(&["apps", app, "volumes"])).await
    }

    /// `POST /v1/apps/{app}/volumes`.
    pub async fn create_volume(
        &self,
        app: &str,
        request: &CreateVolumeRequest,
    ) -> Result<Volume, ClientError> {
        let url = self.url(&["apps", app, "volumes"]);
        self.call_json(Method::POST, url, Some(request)).await
    }

    /// `GET /v1/apps/{app}/volumes/{id}`.
    pub async fn get_volume(&self, app: &str, volume_id: &str) -> Result<Volume, ClientError> {
        self.get_json(self.url(&["apps", app, "volumes", volume_id]))
            .await
    }

    /// `PUT /v1/apps/{app}/volumes/{id}`: changes snapshot settings.
    pub async fn update_volume(
        &self,
        app: &str,
        volume_id: &str,
        request: &UpdateVolumeRequest,
    ) -> Result<Volume, ClientError> {
        let url = self.url(&["apps", app, "volumes", volume_id]);
        self.call_json(Method::PUT, url, Some(request)).await
    }

    /// `DELETE /v1/apps/{app}/volumes/{id}`.
    pub async fn destroy_volume(&self, app: &str, volume_id: &str) -> Result<(), ClientError> {
        let url = self.url(&["apps", app, "volumes", volume_id]);
        self.send(Method::DELETE, url).await.map(drop)
    }

    /// `PUT …/volumes/{id}/extend`: grows the volume to `size_gb`.
    pub async fn extend_volume(
        &self,
        app: &str,
        volume_id: &str,
        size_gb: i64,
    ) -> Result<ExtendVolumeResponse, ClientError> {
        let url = self.url(&["apps", app, "volumes", volume_id, "extend"]);
        self.call_json(Method::PUT, url, Some(&ExtendVolumeRequest { size_gb }))
            .await
    }

    /// `GET …/volumes/{id}/snapshots`.
    pub async fn list_volume_snapshots(
        &self,
        app: &str,
        volume_id: &str,
    ) -> Result<Vec<VolumeSnapshot>, ClientError> {
        self.get_json(self.url(&["apps", app, "volumes", volume_id, "snapshots"]))
            .await
    }

    /// `POST …/volumes/{id}/snapshots`: takes a snapshot now.
    pub async fn create_volume_snapshot(
        &self,
        app: &str,
        volume_id: &str,
    ) -> Result<(), ClientError> {
        let url = self.url(&["apps", app, "volumes", volume_id, "snapshots"]);
        self.send(Method::POST, url).await.map(drop)
    }
}
