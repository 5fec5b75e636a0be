import PhotonCommands

await Photon.run()
