"""Where the node modules that change files keep the originals; shared by every one of them."""


class ModuleDocFragment:
    DOCUMENTATION = r"""
options:
  backup_dir:
    description:
      - Where the originals of the files changed are kept (made 0700), each saved once, before
        its first change (the first original wins, so a rerun after an interrupted run keeps what
        the node had at the start); M(kruise_cri.remediation.node_file_backup) puts them back.
    type: path
    default: /var/lib/kruise-cri/runtime-migration/backup
"""
