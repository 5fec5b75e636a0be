import PhotonCommands

Photon.run()
