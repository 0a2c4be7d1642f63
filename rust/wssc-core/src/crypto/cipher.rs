//! AES-CBC and AES-GCM as XML Encryption uses them (XML-Enc 1.0 section 5.2, XML-Enc 1.1 section 5.2.4): the IV
//! (nonce) prepended to the cipher text, XML-Enc padding; no error says why a decryption failed.

use aes::cipher::block_padding::NoPadding;
use aes::cipher::{BlockDecryptMut, BlockEncryptMut, KeyIvInit};
use aes_gcm::aead::consts::U12;
use aes_gcm::aead::{Aead, AeadInPlace, KeyInit};
use aes_gcm::{AesGcm, Nonce};

use super::{CryptoError, AES_BLOCK, GCM_IV, GCM_TAG, MAX_IV};

/// A block cipher of `xenc:EncryptionMethod` (XML-Enc 1.0 section 5.2.2, XML-Enc 1.1 section 5.2.4).
/// TripleDES is outside the compiled subset (the Python path handles it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cipher {
    Aes128Cbc,
    Aes192Cbc,
    Aes256Cbc,
    Aes128Gcm,
    Aes192Gcm,
    Aes256Gcm,
}

type Aes192Gcm = AesGcm<aes::Aes192, U12>;

impl Cipher {
    pub fn from_uri(uri: &str) -> Option<Cipher> {
        Some(match uri {
            "http://www.w3.org/2001/04/xmlenc#aes128-cbc" => Cipher::Aes128Cbc,
            "http://www.w3.org/2001/04/xmlenc#aes192-cbc" => Cipher::Aes192Cbc,
            "http://www.w3.org/2001/04/xmlenc#aes256-cbc" => Cipher::Aes256Cbc,
            "http://www.w3.org/2009/xmlenc11#aes128-gcm" => Cipher::Aes128Gcm,
            "http://www.w3.org/2009/xmlenc11#aes192-gcm" => Cipher::Aes192Gcm,
            "http://www.w3.org/2009/xmlenc11#aes256-gcm" => Cipher::Aes256Gcm,
            _ => return None,
        })
    }

    pub fn uri(self) -> &'static str {
        match self {
            Cipher::Aes128Cbc => "http://www.w3.org/2001/04/xmlenc#aes128-cbc",
            Cipher::Aes192Cbc => "http://www.w3.org/2001/04/xmlenc#aes192-cbc",
            Cipher::Aes256Cbc => "http://www.w3.org/2001/04/xmlenc#aes256-cbc",
            Cipher::Aes128Gcm => "http://www.w3.org/2009/xmlenc11#aes128-gcm",
            Cipher::Aes192Gcm => "http://www.w3.org/2009/xmlenc11#aes192-gcm",
            Cipher::Aes256Gcm => "http://www.w3.org/2009/xmlenc11#aes256-gcm",
        }
    }

    /// The key length in bytes the algorithm requires.
    pub fn key_len(self) -> usize {
        match self {
            Cipher::Aes128Cbc | Cipher::Aes128Gcm => 16,
            Cipher::Aes192Cbc | Cipher::Aes192Gcm => 24,
            Cipher::Aes256Cbc | Cipher::Aes256Gcm => 32,
        }
    }

    fn is_gcm(self) -> bool {
        matches!(
            self,
            Cipher::Aes128Gcm | Cipher::Aes192Gcm | Cipher::Aes256Gcm
        )
    }

    /// Encrypt for an `xenc:CipherValue`: IV || cipher text (CBC) or IV || cipher text || tag (GCM), the
    /// IV from the operating system's generator.  CBC pads as XML-Enc 1.0 section 5.2 (arbitrary pad bytes,
    /// the last one the pad length; zeros, as WCF, Santuario and the Python path write).
    pub fn encrypt(self, key: &[u8], plaintext: &[u8]) -> Result<Vec<u8>, CryptoError> {
        let mut iv = [0u8; MAX_IV];
        getrandom::fill(&mut iv).map_err(|_| CryptoError("no randomness"))?;
        self.encrypt_with_iv(key, &iv, plaintext)
    }

    /// [`Cipher::encrypt`] with the IV given: `random` (its first 12 bytes for GCM), which must
    /// come from the operating system's generator (the sender draws all of a message's random bytes in one
    /// call, `message::protect`).  XML-Enc 1.0 section 5.2 requires a fresh random IV per encryption.
    pub fn encrypt_with_iv(
        self,
        key: &[u8],
        random: &[u8; MAX_IV],
        plaintext: &[u8],
    ) -> Result<Vec<u8>, CryptoError> {
        let mut buffer = Vec::with_capacity(MAX_IV + plaintext.len() + AES_BLOCK);
        buffer.resize(self.iv_len(), 0);
        buffer.extend_from_slice(plaintext);
        self.encrypt_buffer(key, random, buffer)
    }

    /// The IV length: the block for CBC, 96 bits for GCM.
    pub fn iv_len(self) -> usize {
        if self.is_gcm() {
            GCM_IV
        } else {
            AES_BLOCK
        }
    }

    /// [`Cipher::encrypt_with_iv`] in place: `buffer` is [`Cipher::iv_len`] bytes of room for the IV, then
    /// the plaintext, which is encrypted where it lies (no copy of a Body-sized plaintext); the IV is
    /// written into the room and the padding or the tag appended.
    pub fn encrypt_buffer(
        self,
        key: &[u8],
        random: &[u8; MAX_IV],
        mut buffer: Vec<u8>,
    ) -> Result<Vec<u8>, CryptoError> {
        if key.len() != self.key_len() {
            return Err(CryptoError("wrong key length"));
        }
        let iv_len = self.iv_len();
        let iv = random.get(..iv_len).ok_or(CryptoError("no randomness"))?;
        buffer
            .get_mut(..iv_len)
            .ok_or(CryptoError("no room for the IV"))?
            .copy_from_slice(iv);
        if self.is_gcm() {
            let nonce = Nonce::from_slice(iv);
            let text = buffer
                .get_mut(GCM_IV..)
                .ok_or(CryptoError("no room for the IV"))?;
            let tag = match self {
                Cipher::Aes128Gcm => aes_gcm::Aes128Gcm::new_from_slice(key)
                    .map_err(|_| CryptoError("wrong key length"))?
                    .encrypt_in_place_detached(nonce, b"", text),
                Cipher::Aes192Gcm => Aes192Gcm::new_from_slice(key)
                    .map_err(|_| CryptoError("wrong key length"))?
                    .encrypt_in_place_detached(nonce, b"", text),
                _ => aes_gcm::Aes256Gcm::new_from_slice(key)
                    .map_err(|_| CryptoError("wrong key length"))?
                    .encrypt_in_place_detached(nonce, b"", text),
            }
            .map_err(|_| CryptoError("encryption failed"))?;
            buffer.extend_from_slice(&tag);
            return Ok(buffer);
        }
        let pad = AES_BLOCK - (buffer.len() - AES_BLOCK) % AES_BLOCK;
        buffer.resize(buffer.len() + pad - 1, 0);
        // `pad` is 1..=16, so the cast cannot truncate.
        buffer.push(pad as u8);
        let body = buffer
            .get_mut(AES_BLOCK..)
            .ok_or(CryptoError("encryption failed"))?;
        let len = body.len();
        let bad = |_| CryptoError("encryption failed");
        match self {
            Cipher::Aes128Cbc => cbc::Encryptor::<aes::Aes128>::new_from_slices(key, iv)
                .map_err(|_| CryptoError("wrong key length"))?
                .encrypt_padded_mut::<NoPadding>(body, len)
                .map(|_| ())
                .map_err(bad)?,
            Cipher::Aes192Cbc => cbc::Encryptor::<aes::Aes192>::new_from_slices(key, iv)
                .map_err(|_| CryptoError("wrong key length"))?
                .encrypt_padded_mut::<NoPadding>(body, len)
                .map(|_| ())
                .map_err(bad)?,
            _ => cbc::Encryptor::<aes::Aes256>::new_from_slices(key, iv)
                .map_err(|_| CryptoError("wrong key length"))?
                .encrypt_padded_mut::<NoPadding>(body, len)
                .map(|_| ())
                .map_err(bad)?,
        }
        Ok(buffer)
    }

    /// Decrypt a CipherValue, returning the plaintext and whether its CBC padding was valid, without
    /// failing on bad padding (`wssc.primitives.ciphers.decrypt_unchecked`).
    ///
    /// With bad padding the plaintext is the whole decrypted block sequence less its last byte, so a
    /// caller that goes on to parse it spends the same time on good and bad padding (the padding-oracle
    /// attack times exactly that difference).  The pad bytes other than the last are not checked (XML-Enc
    /// 1.0 section 5.2).  GCM and length failures fail at once: they need no secret to learn.
    pub fn decrypt_unchecked(
        self,
        key: &[u8],
        data: &[u8],
    ) -> Result<(Vec<u8>, bool), CryptoError> {
        if key.len() != self.key_len() {
            return Err(CryptoError("wrong key length"));
        }
        if self.is_gcm() {
            if data.len() < GCM_IV + GCM_TAG {
                return Err(CryptoError("cipher text too short"));
            }
            let (iv, sealed) = data.split_at(GCM_IV);
            let nonce = Nonce::from_slice(iv);
            let opened = match self {
                Cipher::Aes128Gcm => aes_gcm::Aes128Gcm::new_from_slice(key)
                    .map_err(|_| CryptoError("wrong key length"))?
                    .decrypt(nonce, sealed),
                Cipher::Aes192Gcm => Aes192Gcm::new_from_slice(key)
                    .map_err(|_| CryptoError("wrong key length"))?
                    .decrypt(nonce, sealed),
                _ => aes_gcm::Aes256Gcm::new_from_slice(key)
                    .map_err(|_| CryptoError("wrong key length"))?
                    .decrypt(nonce, sealed),
            }
            .map_err(|_| CryptoError("authentication tag mismatch"))?;
            return Ok((opened, true));
        }
        if data.len() < 2 * AES_BLOCK || data.len() % AES_BLOCK != 0 {
            return Err(CryptoError("cipher text length"));
        }
        let (iv, body) = data.split_at(AES_BLOCK);
        let mut buf = body.to_vec();
        let bad = |_| CryptoError("decryption failed");
        match self {
            Cipher::Aes128Cbc => cbc::Decryptor::<aes::Aes128>::new_from_slices(key, iv)
                .map_err(|_| CryptoError("wrong key length"))?
                .decrypt_padded_mut::<NoPadding>(&mut buf)
                .map(|_| ())
                .map_err(bad)?,
            Cipher::Aes192Cbc => cbc::Decryptor::<aes::Aes192>::new_from_slices(key, iv)
                .map_err(|_| CryptoError("wrong key length"))?
                .decrypt_padded_mut::<NoPadding>(&mut buf)
                .map(|_| ())
                .map_err(bad)?,
            _ => cbc::Decryptor::<aes::Aes256>::new_from_slices(key, iv)
                .map_err(|_| CryptoError("wrong key length"))?
                .decrypt_padded_mut::<NoPadding>(&mut buf)
                .map(|_| ())
                .map_err(bad)?,
        }
        let pad = usize::from(buf.last().copied().unwrap_or(0));
        let padding_ok = (1..=AES_BLOCK).contains(&pad);
        let keep = buf.len() - if padding_ok { pad } else { 1 };
        buf.truncate(keep);
        Ok((buf, padding_ok))
    }
}
