import PhotonCommands

